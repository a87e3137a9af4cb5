"""Flood quarantine: a hash that suddenly matches far more than it used to may not block.

A poisoned hash, or one that collides with a viral harmless picture, would otherwise
block thousands of innocent uploads within the hour. Servers count matches per stored
hash in memory and add them, off the lookup's path, to five-minute buckets shared by
every server (`add_counts`); right after, `flooded` compares each counted hash's last
hour with its own baseline, the hourly mean of the week before that hour. A hash over
both an absolute floor and a multiple of its baseline is quarantined: it causes
`review` at most (policy reason `quarantined`), a queue item opens, a
`hash.quarantined` event and an audit row are written, and every server learns of it
through the change log. A moderator confirming the item lifts the quarantine and
exempts the hash for good; dismissing it upholds the quarantine.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.audit import store as audit
from app.models import Bank, HashMatchCount, HashRecord, Quarantine, ReviewItem
from app.store import changes, insert_for, insert_ignoring, table_of
from app.webhooks import store as webhooks

BUCKET = timedelta(minutes=5)
#: Hash ids per IN (...) query.
CHUNK = 500
WINDOW = timedelta(hours=1)
#: The baseline is the hourly mean of this long before the last hour.
BASELINE = timedelta(days=7)
QUARANTINED, LIFTED, UPHELD = "quarantined", "lifted", "upheld"
#: States in which a hash may not block.
HOLDING = (QUARANTINED, UPHELD)


def bucket_of(at: datetime) -> datetime:
    """The start of the five-minute bucket `at` falls in."""
    return at.replace(minute=at.minute - at.minute % 5, second=0, microsecond=0)


def add_counts(session: Session, counts: Mapping[int, int], at: datetime) -> None:
    """Add matches per hash id to the bucket of `at`."""
    if not counts:
        return
    bucket = bucket_of(at)
    table = table_of(HashMatchCount)
    # One statement run for many rows (compiled once, then cached): a multi-row VALUES
    # statement is compiled anew for every batch, in the server's own process.
    statement = insert_for(session, HashMatchCount)
    statement = statement.on_conflict_do_update(
        index_elements=["hash_id", "bucket"],
        set_={"count": table.c.count + statement.excluded.count},
    )
    session.execute(
        statement,
        [{"hash_id": h, "bucket": bucket, "count": n} for h, n in sorted(counts.items())],
    )


def matches_since(
    session: Session, hash_ids: Iterable[int], since: datetime, over: int | None = None
) -> dict[int, int]:
    """Matches per hash id counted since `since` (to the bucket); with `over`, only the
    hashes with more than that many (the database leaves the rest out)."""
    ids = sorted(set(hash_ids))
    found: dict[int, int] = {}
    total = func.sum(HashMatchCount.count)
    for start in range(0, len(ids), CHUNK):
        query = (
            select(HashMatchCount.hash_id, total)
            .where(
                HashMatchCount.hash_id.in_(ids[start : start + CHUNK]),
                HashMatchCount.bucket >= bucket_of(since),
            )
            .group_by(HashMatchCount.hash_id)
        )
        if over is not None:
            query = query.having(total > over)
        found.update({hash_id: int(n or 0) for hash_id, n in session.execute(query)})
    return found


@dataclass(frozen=True, slots=True)
class Flood:
    """A hash over its thresholds."""

    hash_id: int
    last_hour: int
    baseline: float


def is_flood(last_hour: int, baseline: float, floor: int, multiple: float) -> bool:
    """The rule: more than `floor` matches in the last hour and more than `multiple`
    times the hash's hourly baseline."""
    return last_hour > floor and last_hour > multiple * baseline


def flooded(
    session: Session, hash_ids: Iterable[int], now: datetime, floor: int, multiple: float
) -> list[Flood]:
    """The hashes among `hash_ids` that are flooding now and not yet quarantined."""
    start = now - WINDOW
    # Almost always no hash is over the floor: the query then returns no row at all.
    recent = matches_since(session, hash_ids, start, over=floor)
    if not recent:
        return []
    known = set(
        session.scalars(select(Quarantine.hash_id).where(Quarantine.hash_id.in_(list(recent))))
    )
    candidates = [h for h in recent if h not in known]
    if not candidates:
        return []
    before = dict(
        session.execute(
            select(HashMatchCount.hash_id, func.sum(HashMatchCount.count))
            .where(
                HashMatchCount.hash_id.in_(candidates),
                HashMatchCount.bucket >= bucket_of(start - BASELINE),
                HashMatchCount.bucket < bucket_of(start),
            )
            .group_by(HashMatchCount.hash_id)
        ).all()
    )
    hours = BASELINE / timedelta(hours=1)
    floods = []
    for hash_id in candidates:
        baseline = int(before.get(hash_id) or 0) / hours
        if is_flood(recent[hash_id], baseline, floor, multiple):
            floods.append(Flood(hash_id, recent[hash_id], baseline))
    return floods


def quarantine(session: Session, flood: Flood, now: datetime) -> bool:
    """Quarantine a flooding hash: the row, a queue item, an event, an audit row and a
    change every server applies. False if another server did it first."""
    record = session.get(HashRecord, flood.hash_id)
    if record is None:
        return False
    changes.begin_changes(session)
    inserted = session.execute(
        insert_ignoring(session, Quarantine, ["hash_id"]).returning(table_of(Quarantine).c.hash_id),
        [
            {
                "hash_id": flood.hash_id,
                "state": QUARANTINED,
                "matches_last_hour": flood.last_hour,
                "baseline": flood.baseline,
                "created_at": now,
                "updated_at": now,
            }
        ],
    ).all()
    if not inserted:
        return False
    bank = session.get(Bank, record.bank_id)
    bank_name = bank.name if bank else None
    match = {
        "hash_id": record.id,
        "bank": bank_name,
        "signal_type": record.signal_type,
        "distance": 0,
        "action": bank.action if bank else None,
    }
    session.add(
        ReviewItem(
            kind="quarantine",
            hash_id=record.id,
            status="open",
            reason="quarantined",
            verdict="review",
            bank=bank_name,
            key_name=None,
            matches=[match],
            upload_hashes=None,
            first_seen=now,
            last_seen=now,
            sightings=flood.last_hour,
        )
    )
    data = {
        "hash_id": record.id,
        "bank": bank_name,
        "signal_type": record.signal_type,
        "matches_last_hour": flood.last_hour,
        "baseline_per_hour": round(flood.baseline, 2),
        "time": now.isoformat(),
    }
    webhooks.enqueue(session, "hash.quarantined", data)
    audit.append(session, "system", "hash.quarantine", f"hash:{record.id}", data)
    changes.record_quarantine(session)
    return True


def set_state(session: Session, hash_id: int, state: str, by: str, now: datetime) -> None:
    """A moderator's word on a quarantined hash: lifted (blocks again, never quarantined
    again) or upheld (review at most, for good)."""
    changes.begin_changes(session)
    row = session.get(Quarantine, hash_id)
    if row is None:
        return
    row.state = state
    row.decided_by = by
    row.updated_at = now
    session.flush()
    changes.record_quarantine(session)


def holding(session: Session) -> frozenset[int]:
    """Ids of the hashes that may not block now."""
    return frozenset(
        session.scalars(select(Quarantine.hash_id).where(Quarantine.state.in_(HOLDING)))
    )


def listed(session: Session, states: Iterable[str] = HOLDING) -> list[Quarantine]:
    """Quarantine rows in these states (those that may not block), newest first."""
    query = select(Quarantine).where(Quarantine.state.in_(list(states)))
    return list(session.scalars(query.order_by(Quarantine.created_at.desc())))
