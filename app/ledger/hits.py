"""What the sweep found, written in one transaction with everything it sets off: the
hits, the review items, the `sweep.matched` events (the webhook outbox) and the sweep's
place in the change log. A worker killed before the commit leaves nothing; after it,
the cursor is past the change. So no hit is lost and none is reported twice; the
unique index of hits keeps a hash swept again (re-sent by a feed) from reporting again.
The caller owns the transaction.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import Bank, HashRecord, SweepHit, SweepState
from app.review.store import Sighting, merge_sightings
from app.store import changes, insert_ignoring, on_postgresql
from app.webhooks import store as webhooks

EVENT = "sweep.matched"
#: Upper bounds (seconds) of the sweep-lag histogram's buckets.
LAG_BUCKETS = (0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 1800.0)
#: The state's one row.
STATE_ID = 1


@dataclass(frozen=True, slots=True)
class Found:
    """One banked hash the policy matched in one recorded upload."""

    content_id: str
    hash_id: int
    bank: str
    signal_type: str
    distance: int
    candidate: str
    verdict: str
    reason: str
    recorded_at: datetime
    change_seq: int
    #: The upload's own hashes, for the review item (a decision may bank them).
    upload_hashes: tuple[tuple[str, str, int | None], ...] = ()


@dataclass(slots=True)
class Committed:
    """What one commit reported."""

    hits: int = 0
    contents: int = 0
    events: int = 0


def state(session: Session) -> SweepState:
    """The sweep's state, made on first use: changes already in the log are the servers'
    (their uploads were matched against them); every ledger row is still to check."""
    row = session.get(SweepState, STATE_ID)
    if row is None:
        head = changes.head(session)
        row = SweepState(
            id=STATE_ID,
            change_seq=head,
            review_seq=head,
            ledger_seq=0,
            hashes_swept=0,
            contents_found=0,
            banks=sweepable_banks(session),
            lag={},
        )
        session.add(row)
        session.flush()
    return row


def sweepable_banks(session: Session) -> list[int]:
    """Ids of the enabled block and review banks: those whose hashes are swept."""
    return list(
        session.scalars(
            select(Bank.id)
            .where(Bank.enabled.is_(True), Bank.action.in_(("block", "review")))
            .order_by(Bank.id)
        )
    )


def still_active(session: Session, hash_ids: Sequence[int]) -> set[int]:
    """Which of these hashes are active now. On PostgreSQL their rows are locked until
    commit, so a withdrawal waits for this sweep's events or comes before and stops them."""
    if not hash_ids:
        return set()
    query = select(HashRecord.id).where(
        HashRecord.id.in_(sorted(set(hash_ids))), HashRecord.status == "active"
    )
    if on_postgresql(session):
        query = query.with_for_update(read=True)
    return set(session.scalars(query))


def event_key(hit: Found) -> str:
    """The key of the `sweep.matched` event that tells of a hit (`webhooks.message_id`)."""
    return f"sweep:{hit.change_seq}:{hit.verdict}:{hit.bank}:{hit.content_id}"


def commit(session: Session, found: Sequence[Found], now: datetime) -> Committed:
    """Record hits whose hash is still active and that were not reported before; open a
    review item per content and send a `sweep.matched` event per content and bank."""
    active = still_active(session, [f.hash_id for f in found])
    fresh: list[Found] = []
    for hit in found:
        if hit.hash_id not in active:
            continue
        inserted = session.execute(
            insert_ignoring(session, SweepHit, ["content_id", "hash_id", "verdict"])
            .values(
                content_id=hit.content_id,
                hash_id=hit.hash_id,
                bank=hit.bank,
                signal_type=hit.signal_type,
                distance=hit.distance,
                candidate=hit.candidate,
                verdict=hit.verdict,
                reason=hit.reason,
                recorded_at=hit.recorded_at,
                found_at=now,
                change_seq=hit.change_seq,
                event=event_key(hit),
            )
            .returning(SweepHit.id)
        ).first()
        if inserted is not None:
            fresh.append(hit)
    done = Committed(hits=len(fresh))
    by_event: dict[str, list[Found]] = defaultdict(list)
    by_content: dict[str, list[Found]] = defaultdict(list)
    for hit in fresh:
        by_event[event_key(hit)].append(hit)
        by_content[hit.content_id].append(hit)
    done.events = webhooks.enqueue_all(
        session, EVENT, [(event_data(hits), key) for key, hits in by_event.items()]
    )
    if by_content:
        merge_sightings(session, [sighting(hits, now) for hits in by_content.values()])
    done.contents = len(by_content)
    return done


def event_data(hits: Sequence[Found]) -> dict[str, Any]:
    """The `sweep.matched` event of one content and bank."""
    first = hits[0]
    return {
        "content_id": first.content_id,
        "bank": first.bank,
        "verdict": "block" if any(h.verdict == "block" for h in hits) else "review",
        "recorded_at": min(h.recorded_at for h in hits).isoformat(),
        "matches": [
            {
                "hash_id": h.hash_id,
                "signal_type": h.signal_type,
                "distance": h.distance,
                "candidate": h.candidate,
                "verdict": h.verdict,
                "reason": h.reason,
            }
            for h in hits
        ],
    }


def sighting(hits: Sequence[Found], now: datetime) -> Sighting:
    """The review queue's sighting of one content's hits."""
    block = [h for h in hits if h.verdict == "block"]
    deciding = (block or list(hits))[0]
    return Sighting(
        content_id=deciding.content_id,
        key_name="sweep",
        verdict=deciding.verdict,
        reason="sweep",
        matches=[
            {
                "hash_id": h.hash_id,
                "bank": h.bank,
                "signal_type": h.signal_type,
                "distance": h.distance,
                "action": h.verdict,
                "reason": h.reason,
                **({"variant": h.candidate} if h.candidate != "original" else {}),
            }
            for h in hits
        ],
        upload_hashes=[
            {"signal_type": s, "value": v, **({"quality": q} if q is not None else {})}
            for s, v, q in deciding.upload_hashes
        ],
        seen_at=now,
        bank=deciding.bank,
    )


def observe_lag(row: SweepState, sweep_pass: str, seconds: float) -> None:
    """Count one change swept `seconds` after its commit in the lag histogram."""
    # Copied to the bucket lists: the JSON column is written only if it compares unequal.
    lag = {k: {**v, "buckets": list(v["buckets"])} for k, v in (row.lag or {}).items()}
    held = lag.setdefault(sweep_pass, {"buckets": [0] * len(LAG_BUCKETS), "sum": 0.0, "count": 0})
    for position, bound in enumerate(LAG_BUCKETS):
        if seconds <= bound:
            held["buckets"][position] += 1
    held["sum"] += seconds
    held["count"] += 1
    row.lag = lag  # a new object, so the JSON column is written


def page(session: Session, before: int | None, limit: int) -> tuple[list[SweepHit], int | None]:
    """Hits newest first, older than the id `before`; and the next page's cursor."""
    query = select(SweepHit).order_by(SweepHit.id.desc()).limit(limit + 1)
    if before is not None:
        query = query.where(SweepHit.id < before)
    rows = list(session.scalars(query))
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, rows[-1].id if more and rows else None
