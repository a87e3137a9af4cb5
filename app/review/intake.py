"""What one batch of verdicts leaves behind, written in one transaction off the request
path: verdict log rows, match counts per stored hash, review sightings merged into the
queue, and quarantines for hashes that flood.

The recorder (`app.verdict_log`) queues `Outcome`s from the request threads and calls
`write` from its own thread, so a lookup pays for a queue put at most.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from app.policy import Action, Verdict
from app.review import flood
from app.review.store import Sighting, merge_sightings
from app.store.verdicts import insert_entries


@dataclass(frozen=True, slots=True)
class FloodRule:
    """When a hash is quarantined (see `app.review.flood.is_flood`)."""

    floor: int = 50
    multiple: float = 20.0


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one verdict leaves behind: a log row, matched hash ids, a sighting, and the
    upload's ledger rows (`app.ledger`)."""

    log: dict[str, Any] | None
    hash_ids: tuple[int, ...]
    sighting: Sighting | None
    ledger: tuple[dict[str, Any], ...] = ()


def wants_review(verdict: Verdict, content_id: str | None, queue_blocks: Collection[str]) -> bool:
    """Whether a verdict becomes a queue item: a review on named content, or a block by
    a bank whose blocks are reviewed after the fact (`queue_blocks`)."""
    if content_id is None:
        return False
    if verdict.action is Action.REVIEW:
        return True
    return verdict.action is Action.BLOCK and any(
        m.action is Action.BLOCK and m.bank in queue_blocks for m in verdict.matches
    )


def match_records(verdict: Verdict) -> list[dict[str, Any]]:
    """A verdict's matches as the queue and the log keep them."""
    records = []
    for m in verdict.matches:
        record: dict[str, Any] = {
            "hash_id": m.hash_id,
            "bank": m.bank,
            "signal_type": m.signal_type,
            "distance": m.distance,
            "action": m.action.value,
            "reason": m.reason.value,
        }
        if m.variant:
            record["variant"] = m.variant
        if m.part:
            record["part"] = m.part
        records.append(record)
    return records


def sighting_of(
    key_name: str,
    content_id: str,
    verdict: Verdict,
    own_hashes: Sequence[tuple[str, str, int | None]],
    at: datetime,
) -> Sighting:
    """A queue sighting of one verdict, with the upload's own hashes (so that a decision
    can bank them)."""
    return Sighting(
        content_id=content_id,
        key_name=key_name,
        verdict=verdict.action.value,
        reason=verdict.reason.value,
        matches=match_records(verdict),
        upload_hashes=[
            {"signal_type": s, "value": v, **({"quality": q} if q is not None else {})}
            for s, v, q in own_hashes
        ],
        seen_at=at,
        bank=verdict.matches[0].bank if verdict.matches else None,
    )


@dataclass(slots=True)
class Written:
    """What one `write` did."""

    opened: int = 0
    quarantined: int = 0


def write(
    session: Session, outcomes: Sequence[Outcome], now: datetime, rule: FloodRule | None
) -> Written:
    """Write a batch of outcomes; `rule` None counts no matches (quarantine off)."""
    written = Written()
    rows = [o.log for o in outcomes if o.log is not None]
    insert_entries(session, rows)
    sightings = [o.sighting for o in outcomes if o.sighting is not None]
    if sightings:
        written.opened = merge_sightings(session, sightings)
    if rule is not None:
        counts = Counter(h for o in outcomes for h in o.hash_ids)
        flood.add_counts(session, counts, now)
        for found in flood.flooded(session, counts, now, rule.floor, rule.multiple):
            written.quarantined += flood.quarantine(session, found, now)
    return written
