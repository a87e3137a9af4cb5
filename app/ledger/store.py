"""The content ledger's rows: recorded in batches, read by the sweep, forgotten on
request, purged past retention. The caller owns the transaction.

Rows are followed by id (`after`), so ids must become visible in the order they are
handed out: on PostgreSQL writers take a transaction-scoped advisory lock before they
insert, as change-log writers do (`app.store.changes`); SQLite runs writers one at a time.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, insert, select, text
from sqlalchemy.orm import Session

from app.models import LedgerEntry, LedgerForget
from app.store import insert_for, on_postgresql, table_of

#: Advisory lock key of ledger writers ("ledger" in ASCII, as a bigint).
LOCK_KEY = 0x6C6564676572
#: Ids per `IN (...)` list.
CHUNK = 1000
#: Rows purged per transaction.
PURGE_PAGE = 10_000


@dataclass(frozen=True, slots=True)
class Entry:
    """One recorded hash of one upload."""

    id: int
    content_id: str
    recorded_at: datetime
    signal_type: str
    value: str
    quality: int | None
    candidate: str | None
    detailed: bool | None
    seen_seq: int
    matched: tuple[int, ...] = ()


COLUMNS = (
    LedgerEntry.id,
    LedgerEntry.content_id,
    LedgerEntry.recorded_at,
    LedgerEntry.signal_type,
    LedgerEntry.value,
    LedgerEntry.quality,
    LedgerEntry.candidate,
    LedgerEntry.detailed,
    LedgerEntry.seen_seq,
    LedgerEntry.matched,
)


def entry(row: Any) -> Entry:
    """An `Entry` from a row of COLUMNS (named as its fields are)."""
    return Entry(**{**row._mapping, "matched": tuple(row.matched or ())})


@dataclass(frozen=True, slots=True)
class Recorded:
    """What the ledger holds of one content id, without any hash value."""

    content_id: str
    first_recorded_at: datetime
    last_recorded_at: datetime
    hashes: dict[str, int]


def append(session: Session, rows: Sequence[dict[str, Any]]) -> int:
    """Record rows (`LedgerEntry` columns but the id), but those of a content id
    forgotten after they were recorded; return how many were recorded."""
    if not rows:
        return 0
    if on_postgresql(session):
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": LOCK_KEY})
    forgotten = _forgotten(session, {row["content_id"] for row in rows})
    kept = [
        row
        for row in rows
        if row["content_id"] not in forgotten or row["recorded_at"] > forgotten[row["content_id"]]
    ]
    if kept:
        session.execute(insert(table_of(LedgerEntry)), kept)
    return len(kept)


def _forgotten(session: Session, content_ids: set[str]) -> dict[str, datetime]:
    """When each of these content ids was last forgotten, for those that were."""
    wanted = sorted(content_ids)
    found: dict[str, datetime] = {}
    for start in range(0, len(wanted), CHUNK):
        rows = session.execute(
            select(LedgerForget.content_id, LedgerForget.forgotten_at).where(
                LedgerForget.content_id.in_(wanted[start : start + CHUNK])
            )
        )
        found.update((content_id, at) for content_id, at in rows)
    return found


def after(session: Session, last_id: int, limit: int) -> list[Entry]:
    """Up to `limit` rows with ids over `last_id`, oldest first."""
    rows = session.execute(
        select(*COLUMNS).where(LedgerEntry.id > last_id).order_by(LedgerEntry.id).limit(limit)
    )
    return [entry(row) for row in rows]


def head(session: Session) -> int:
    """The newest row id, or 0."""
    return int(session.scalar(select(func.coalesce(func.max(LedgerEntry.id), 0))) or 0)


def contents_of(session: Session, ids: Iterable[int]) -> dict[int, str]:
    """The content id of each of these rows that still exists."""
    wanted = sorted(set(ids))
    found: dict[int, str] = {}
    for start in range(0, len(wanted), CHUNK):
        chunk = wanted[start : start + CHUNK]
        rows = session.execute(
            select(LedgerEntry.id, LedgerEntry.content_id).where(LedgerEntry.id.in_(chunk))
        )
        found.update((row_id, content_id) for row_id, content_id in rows)
    return found


def entries_of(session: Session, content_ids: Iterable[str]) -> dict[str, list[Entry]]:
    """Every recorded row of each content id, oldest first."""
    wanted = sorted(set(content_ids))
    by_content: dict[str, list[Entry]] = defaultdict(list)
    for start in range(0, len(wanted), CHUNK):
        rows = session.execute(
            select(*COLUMNS)
            .where(LedgerEntry.content_id.in_(wanted[start : start + CHUNK]))
            .order_by(LedgerEntry.id)
        )
        for row in rows:
            by_content[row.content_id].append(entry(row))
    return dict(by_content)


def describe(session: Session, content_id: str) -> Recorded | None:
    """When a content id was recorded and how many hashes of each type; None if not."""
    rows = session.execute(
        select(
            LedgerEntry.signal_type,
            func.count(),
            func.min(LedgerEntry.recorded_at),
            func.max(LedgerEntry.recorded_at),
        )
        .where(LedgerEntry.content_id == content_id)
        .group_by(LedgerEntry.signal_type)
    ).all()
    if not rows:
        return None
    return Recorded(
        content_id,
        min(row[2] for row in rows),
        max(row[3] for row in rows),
        {signal_type: int(count) for signal_type, count, _, _ in sorted(rows)},
    )


def forget(session: Session, content_id: str, now: datetime) -> int:
    """Delete every row of a content id, and keep its rows still on their way out (see
    `LedgerForget`); return how many rows there were."""
    result = session.execute(delete(LedgerEntry).where(LedgerEntry.content_id == content_id))
    tombstone = insert_for(session, LedgerForget).values(content_id=content_id, forgotten_at=now)
    session.execute(
        tombstone.on_conflict_do_update(index_elements=["content_id"], set_={"forgotten_at": now})
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def purge(session: Session, before: datetime | None, limit: int = PURGE_PAGE) -> list[int]:
    """Delete up to `limit` rows recorded before `before` (every row, for None: the
    ledger was turned off); return their ids."""
    query = select(LedgerEntry.id).order_by(LedgerEntry.id).limit(limit)
    if before is not None:
        query = query.where(LedgerEntry.recorded_at < before)
    ids = list(session.scalars(query))
    for start in range(0, len(ids), CHUNK):
        session.execute(delete(LedgerEntry).where(LedgerEntry.id.in_(ids[start : start + CHUNK])))
    return ids


def purge_forgets(session: Session, before: datetime) -> int:
    """Delete tombstones older than `before` (no row recorded before them is in flight)."""
    result = session.execute(delete(LedgerForget).where(LedgerForget.forgotten_at < before))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
