"""The verdict log: what was decided, for whom, under which policy. Never media."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from app.models import VerdictLogEntry
from app.store import table_of


def insert_entries(session: Session, entries: Sequence[dict[str, Any]]) -> None:
    """Write a batch of verdict log rows (keys are the table's column names)."""
    if entries:
        session.execute(insert(table_of(VerdictLogEntry)), list(entries))


def recent(session: Session, limit: int = 100) -> list[VerdictLogEntry]:
    """The newest entries first."""
    return list(
        session.scalars(select(VerdictLogEntry).order_by(VerdictLogEntry.id.desc()).limit(limit))
    )
