"""The change log: written in the same transaction as every change to what matches.

Writers call `begin_changes` first in their transaction. On PostgreSQL it takes a
transaction-scoped advisory lock, so change-writing transactions run one at a time and
commit in the order of their sequence numbers: a follower that has seen `seq` N can never
later find a smaller one appear (which a plain sequence allows: numbers are handed out at
insert, rows become visible at commit). SQLite serialises writers by itself. Taking the
lock first, before any row is written, keeps two writers from waiting on each other.

A committed change wakes PostgreSQL listeners through NOTIFY (delivered at commit);
SQLite followers poll.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, insert, select, text
from sqlalchemy.orm import Session

from app.models import HashChange, utcnow
from app.store import on_postgresql, table_of

#: NOTIFY channel followers LISTEN on.
CHANNEL = "hashwall_changes"
#: Advisory lock key of change writers ("hashwall" in ASCII, as a bigint).
LOCK_KEY = 0x68617368_77616C6C
#: Hash ids per change row: a bulk import writes one row per this many hashes.
IDS_PER_ROW = 5000
HASHES = "hashes"
BANKS = "banks"
QUARANTINE = "quarantine"


@dataclass(frozen=True, slots=True)
class Change:
    """One row of the change log, as followers read it."""

    seq: int
    created_at: datetime
    kind: str
    hash_ids: list[int]


def begin_changes(session: Session) -> None:
    """Serialise this transaction with every other change writer (call it first)."""
    if on_postgresql(session):
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": LOCK_KEY})


def _append(session: Session, rows: list[dict[str, object]]) -> list[int]:
    """Write change rows; return their sequence numbers."""
    if not rows:
        return []
    table = table_of(HashChange)
    seqs = list(session.scalars(insert(table).returning(table.c.seq), rows))
    if on_postgresql(session):
        session.execute(text("SELECT pg_notify(:channel, '')"), {"channel": CHANNEL})
    return seqs


def record_hashes(session: Session, hash_ids: Iterable[int]) -> list[int]:
    """Log that these hashes changed (added, re-activated, updated, withdrawn, deleted);
    return the sequence numbers of the change rows."""
    ids = sorted(set(hash_ids))
    now = utcnow()
    return _append(
        session,
        [
            {"created_at": now, "kind": HASHES, "hash_ids": ids[start : start + IDS_PER_ROW]}
            for start in range(0, len(ids), IDS_PER_ROW)
        ],
    )


def record_banks(session: Session) -> None:
    """Log that a bank was created, changed or deleted: policies must be reloaded."""
    _append(session, [{"created_at": utcnow(), "kind": BANKS, "hash_ids": None}])


def record_quarantine(session: Session) -> None:
    """Log that a hash was quarantined or released: the quarantine list must be reloaded."""
    _append(session, [{"created_at": utcnow(), "kind": QUARANTINE, "hash_ids": None}])


def head(session: Session) -> int:
    """The newest sequence number committed, or 0."""
    return int(session.scalar(select(func.coalesce(func.max(HashChange.seq), 0))) or 0)


def after(session: Session, seq: int, limit: int) -> list[Change]:
    """Up to `limit` changes after `seq`, oldest first."""
    rows = session.execute(
        select(HashChange.seq, HashChange.created_at, HashChange.kind, HashChange.hash_ids)
        .where(HashChange.seq > seq)
        .order_by(HashChange.seq)
        .limit(limit)
    )
    return [Change(s, created, kind, list(ids or [])) for s, created, kind, ids in rows]
