"""The verdict log: what was decided, for whom, under which policy. Never media."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import Table, insert, select
from sqlalchemy.orm import Session

from app.models import VerdictLogEntry


def insert_entries(session: Session, entries: Sequence[dict[str, Any]]) -> None:
    """Write a batch of verdict log rows (keys are the table's column names)."""
    if entries:
        # The table, not the mapped class: a Core executemany, without the ORM's bulk
        # bookkeeping per row (which took most of the writer's time under load).
        session.execute(insert(cast(Table, VerdictLogEntry.__table__)), list(entries))


def recent(session: Session, limit: int = 100) -> list[VerdictLogEntry]:
    """The newest entries first."""
    return list(
        session.scalars(select(VerdictLogEntry).order_by(VerdictLogEntry.id.desc()).limit(limit))
    )
