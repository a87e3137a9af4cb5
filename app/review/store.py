"""Review items: sightings merged into the open item of their content, pages of the
queue, and claims with leases. The caller owns the transaction.

A claim is one conditional UPDATE (`WHERE` nobody else holds a live lease), so of many
moderators claiming at once exactly one changes the row: on PostgreSQL the others wait
for that row, re-read it and no longer match; SQLite runs writers one at a time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, and_, bindparam, func, insert, or_, select, update
from sqlalchemy.orm import Session

from app.errors import InvalidInput, NotFound
from app.models import ReviewDecision, ReviewItem
from app.store import table_of

OPEN, ESCALATED, DECIDED, CLAIMED = "open", "escalated", "decided", "claimed"
#: Every item not yet decided, claimed or not (the UI's default view).
UNDECIDED = "undecided"
STATUSES = (OPEN, CLAIMED, ESCALATED, DECIDED, UNDECIDED)


@dataclass(slots=True)
class Sighting:
    """One verdict on one piece of content that a moderator should see."""

    content_id: str
    key_name: str
    verdict: str
    reason: str
    matches: list[dict[str, Any]]
    upload_hashes: list[dict[str, Any]]
    seen_at: datetime
    bank: str | None = None
    count: int = 1


def _merge_lists(
    old: Sequence[dict[str, Any]], new: Sequence[dict[str, Any]], key: tuple[str, ...]
) -> list[dict[str, Any]]:
    """`old` and `new` records, one per key, the newer winning."""
    merged = {tuple(m.get(k) for k in key): m for m in old}
    merged.update({tuple(m.get(k) for k in key): m for m in new})
    return list(merged.values())


MATCH_KEY = ("hash_id", "bank", "variant", "part")
HASH_KEY = ("signal_type", "value")


def merge_sightings(session: Session, sightings: Sequence[Sighting]) -> int:
    """Fold sightings into the open item of their content id, or open one; return how
    many items were opened."""
    by_content: dict[str, Sighting] = {}
    for s in sightings:
        held = by_content.get(s.content_id)
        if held is None:
            by_content[s.content_id] = Sighting(
                s.content_id,
                s.key_name,
                s.verdict,
                s.reason,
                list(s.matches),
                list(s.upload_hashes),
                s.seen_at,
                s.bank,
                s.count,
            )
            continue
        held.count += s.count
        held.matches = _merge_lists(held.matches, s.matches, MATCH_KEY)
        held.upload_hashes = _merge_lists(held.upload_hashes, s.upload_hashes, HASH_KEY)
        held.seen_at = max(held.seen_at, s.seen_at)
    # Core statements, not ORM objects: this runs twice a second in every server, in
    # the process that answers lookups, and loading and flushing items through the ORM
    # took most of the writer's time (py-spy). A sighting that brings no new match or
    # hash only bumps the item's count.
    table = table_of(ReviewItem)
    bumps, rewrites = [], []
    ids = list(by_content)
    for start in range(0, len(ids), 500):
        rows = session.execute(
            select(table.c.id, table.c.content_id, table.c.matches, table.c.upload_hashes).where(
                table.c.content_id.in_(ids[start : start + 500]), table.c.status != DECIDED
            )
        )
        for item_id, content_id, matches, uploads in rows:
            s = by_content.pop(content_id)
            change = {"item_id": item_id, "count": s.count, "seen": s.seen_at}
            merged = _merge_lists(matches, s.matches, MATCH_KEY)
            uploaded = _merge_lists(uploads or [], s.upload_hashes, HASH_KEY)
            if merged == matches and uploaded == (uploads or []):
                bumps.append(change)
            else:
                rewrites.append(change | {"new_matches": merged, "new_uploads": uploaded})
    bump = (
        update(table)
        .where(table.c.id == bindparam("item_id"))
        .values(sightings=table.c.sightings + bindparam("count"), last_seen=bindparam("seen"))
    )
    if bumps:
        session.execute(bump, bumps)
    if rewrites:
        session.execute(
            bump.values(matches=bindparam("new_matches"), upload_hashes=bindparam("new_uploads")),
            rewrites,
        )
    if by_content:
        session.execute(
            insert(table),
            [
                {
                    "kind": "match",
                    "content_id": content_id,
                    "hash_id": None,
                    "status": OPEN,
                    "reason": s.reason,
                    "verdict": s.verdict,
                    "bank": s.bank,
                    "key_name": s.key_name,
                    "matches": s.matches,
                    "upload_hashes": s.upload_hashes,
                    "first_seen": s.seen_at,
                    "last_seen": s.seen_at,
                    "sightings": s.count,
                }
                for content_id, s in by_content.items()
            ],
        )
    return len(by_content)


def leased(item: ReviewItem, now: datetime) -> bool:
    """Whether someone's claim on the item still runs."""
    return item.lease_until is not None and item.lease_until > now


def shown_status(item: ReviewItem, now: datetime) -> str:
    """The status the API shows: `claimed` while a lease runs, else the stored one."""
    if item.status != DECIDED and leased(item, now):
        return CLAIMED
    return item.status


def _leased(now: datetime) -> Any:
    return and_(ReviewItem.lease_until.is_not(None), ReviewItem.lease_until > now)


def _with_status(query: Select[Any], status: str, now: datetime) -> Any:
    if status not in STATUSES:
        raise InvalidInput(
            f"unknown status {status!r}; one of {', '.join(STATUSES)}",
            [{"pointer": "/query/status", "detail": "unknown status"}],
        )
    if status == DECIDED:
        return query.where(ReviewItem.status == DECIDED)
    if status == UNDECIDED:
        return query.where(ReviewItem.status != DECIDED)
    if status == CLAIMED:
        return query.where(ReviewItem.status != DECIDED, _leased(now))
    return query.where(ReviewItem.status == status, ~_leased(now))


def page(
    session: Session,
    now: datetime,
    status: str | None,
    bank: str | None,
    after: int | None,
    limit: int,
) -> tuple[list[ReviewItem], int | None]:
    """Items oldest first (the queue's order), after the id `after`; and the next cursor."""
    query = select(ReviewItem)
    if status:
        query = _with_status(query, status, now)
    if bank:
        query = query.where(ReviewItem.bank == bank)
    if after is not None:
        query = query.where(ReviewItem.id > after)
    rows = list(session.scalars(query.order_by(ReviewItem.id).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (rows[-1].id if more and rows else None)


def get_item(session: Session, item_id: int, *, lock: bool = False) -> ReviewItem:
    """One item, or raise `NotFound`; `lock` holds its row to the end of the transaction."""
    query = select(ReviewItem).where(ReviewItem.id == item_id)
    if lock:
        query = query.with_for_update()
    item = session.scalar(query)
    if item is None:
        raise NotFound(f"no review item {item_id}")
    return item


def claim(session: Session, item_id: int, key_name: str, now: datetime, until: datetime) -> bool:
    """Take (or renew) the lease on an undecided item unless another key holds it."""
    result = session.execute(
        update(ReviewItem)
        .where(
            ReviewItem.id == item_id,
            ReviewItem.status != DECIDED,
            or_(
                ReviewItem.claimed_by.is_(None),
                ReviewItem.claimed_by == key_name,
                ReviewItem.lease_until.is_(None),
                ReviewItem.lease_until <= now,
            ),
        )
        .values(claimed_by=key_name, lease_until=until)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def release(item: ReviewItem) -> None:
    """Give the item back to the queue."""
    item.claimed_by = None
    item.lease_until = None


def decisions_of(session: Session, item_ids: Sequence[int]) -> dict[int, list[ReviewDecision]]:
    """Every decision on these items, oldest first."""
    found: dict[int, list[ReviewDecision]] = {i: [] for i in item_ids}
    if item_ids:
        rows = session.scalars(
            select(ReviewDecision)
            .where(ReviewDecision.item_id.in_(list(item_ids)))
            .order_by(ReviewDecision.id)
        )
        for row in rows:
            found[row.item_id].append(row)
    return found


def backlog(session: Session) -> tuple[int, datetime | None]:
    """Undecided items, and when the oldest of them was first seen."""
    count, oldest = session.execute(
        select(func.count(), func.min(ReviewItem.first_seen)).where(ReviewItem.status != DECIDED)
    ).one()
    return int(count), oldest
