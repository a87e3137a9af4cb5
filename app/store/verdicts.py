"""The verdict log: what was decided, for whom, under which policy. Never media."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from app.models import VerdictLogEntry
from app.store import on_postgresql, table_of


def insert_entries(session: Session, entries: Sequence[dict[str, Any]]) -> None:
    """Write a batch of verdict log rows (keys are the table's column names)."""
    if entries:
        session.execute(insert(table_of(VerdictLogEntry)), list(entries))


def recent(
    session: Session,
    limit: int = 100,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    verdict: str | None = None,
    content_id: str | None = None,
) -> list[VerdictLogEntry]:
    """The newest entries first, of those logged from `since` (inclusive) to `until`
    (exclusive) with this verdict and content id, where given."""
    query = select(VerdictLogEntry).order_by(VerdictLogEntry.id.desc()).limit(limit)
    if since is not None:
        query = query.where(VerdictLogEntry.created_at >= since)
    if until is not None:
        query = query.where(VerdictLogEntry.created_at < until)
    if verdict is not None:
        query = query.where(VerdictLogEntry.verdict == verdict)
    if content_id is not None:
        query = query.where(VerdictLogEntry.content_id == content_id)
    return list(session.scalars(query))


def hourly(session: Session, since: datetime) -> dict[tuple[datetime, str], int]:
    """Verdicts logged per hour (UTC) and verdict since `since`, for the overview."""
    if on_postgresql(session):
        hour: Any = func.date_trunc("hour", VerdictLogEntry.created_at)
    else:
        hour = func.strftime("%Y-%m-%d %H:00:00", VerdictLogEntry.created_at)
    rows = session.execute(
        select(hour, VerdictLogEntry.verdict, func.count())
        .where(VerdictLogEntry.created_at >= since)
        .group_by(hour, VerdictLogEntry.verdict)
    )
    counts: dict[tuple[datetime, str], int] = {}
    for at, verdict, count in rows:
        if isinstance(at, str):
            at = datetime.fromisoformat(at)
        counts[at.replace(tzinfo=UTC), verdict] = int(count)
    return counts
