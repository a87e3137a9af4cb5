"""A moderator's decision on a queue item, and everything it sets off, in the caller's
transaction: the item closed (its upload hashes dropped), the upload's hashes banked if
asked, unconfirmed feed hashes settled, feedback for the feeds, a quarantine lifted or
upheld, a `review.decided` event in the outbox and a row in the audit trail.

The rules of who may decide what are pure (`check`); `decide` applies them.

- `confirm`: the content is NCII; its verdict becomes block.
- `dismiss`: a false positive; its verdict becomes allow.
- `escalate`: to the second tier; only a key with `review:escalated` (or `admin`)
  decides an escalated item.

A caller must hold the item's claim, unless it is `admin`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.audit import store as audit
from app.auth import Principal
from app.errors import Conflict, Forbidden, InvalidInput
from app.matching import parse_items
from app.models import HashRecord, ReviewDecision, ReviewItem
from app.policy import Action
from app.review import flood
from app.review.store import DECIDED, ESCALATED, leased, release
from app.store import banks as bank_store
from app.store import feeds as feed_store
from app.store import hashes as hash_store
from app.store.hashes import AddResult, NewHash
from app.webhooks import store as webhooks
from matcher.signals import Registry, Signal

CONFIRM, DISMISS, ESCALATE = "confirm", "dismiss", "escalate"
VERDICTS = {CONFIRM: Action.BLOCK.value, DISMISS: Action.ALLOW.value, ESCALATE: "review"}


def holds_claim(item: ReviewItem, principal: Principal, now: datetime) -> bool:
    """Whether the caller holds a live claim on the item."""
    return item.claimed_by == principal.name and leased(item, now)


def may_work_on(principal: Principal, item: ReviewItem) -> None:
    """Raise unless the key may claim or decide the item: it is undecided and, if
    escalated, the key has `review:escalated`."""
    if item.status == DECIDED:
        raise Conflict(f"review item {item.id} is already decided ({item.decision})")
    if item.status == ESCALATED and not principal.has("review:escalated"):
        raise Forbidden(f"review item {item.id} is escalated: it needs the review:escalated scope")


def check(item: ReviewItem, principal: Principal, decision: str, now: datetime) -> None:
    """Raise unless `principal` may take `decision` on `item` now."""
    may_work_on(principal, item)
    if decision == ESCALATE and item.status == ESCALATED:
        raise Conflict(f"review item {item.id} is already escalated")
    if not principal.has("admin") and not holds_claim(item, principal, now):
        holder = item.claimed_by if leased(item, now) else None
        raise Conflict(
            f"review item {item.id} is claimed by {holder!r}"
            if holder
            else f"claim review item {item.id} before deciding it"
        )


@dataclass(slots=True)
class Decided:
    """What a decision changed that the live index must hear of."""

    decision: ReviewDecision
    added: AddResult | None = None
    confirmed: list[int] = field(default_factory=list)


def _bank_for(session: Session, name: str, decision: str) -> Any:
    bank = bank_store.get_bank(session, name)
    allow = bank.action == Action.ALLOW.value
    if decision == CONFIRM and allow:
        raise InvalidInput(
            f"confirmed content goes to a block or review bank; {name!r} is an allow bank",
            [{"pointer": "/add_to_bank", "detail": "an allow bank"}],
        )
    if decision == DISMISS and not allow:
        raise InvalidInput(
            f"dismissed content goes to an allow bank; {name!r} is a {bank.action} bank",
            [{"pointer": "/add_to_bank", "detail": "not an allow bank"}],
        )
    return bank


def _bank_upload(
    session: Session, registry: Registry, item: ReviewItem, bank_name: str, decision: str
) -> AddResult:
    bank = _bank_for(session, bank_name, decision)
    if not item.upload_hashes:
        raise InvalidInput(
            f"review item {item.id} holds no upload hashes to add",
            [{"pointer": "/add_to_bank", "detail": "nothing to add"}],
        )
    queries = parse_items(
        registry,
        [Signal(h["signal_type"], h["value"], h.get("quality")) for h in item.upload_hashes],
    )
    items = [
        NewHash(q.signal_type, q.value, q.quality, item.content_id, f"review:{item.id}", q.frames)
        for q in queries
        if not q.degenerate
    ]
    return hash_store.add_hashes(session, bank, items, "review")


def decide(
    session: Session,
    registry: Registry,
    item: ReviewItem,
    principal: Principal,
    decision: str,
    note: str | None,
    add_to_bank: str | None,
    now: datetime,
) -> Decided:
    """Take a decision on a (locked) item; see the module docstring."""
    check(item, principal, decision, now)
    if decision == ESCALATE and add_to_bank:
        raise InvalidInput(
            "an escalation adds no hashes", [{"pointer": "/add_to_bank", "detail": "escalate"}]
        )
    added = _bank_upload(session, registry, item, add_to_bank, decision) if add_to_bank else None
    confirmed: list[int] = []
    if decision != ESCALATE:
        hash_ids = sorted({m["hash_id"] for m in item.matches})
        records = list(session.scalars(select(HashRecord).where(HashRecord.id.in_(hash_ids))))
        if decision == CONFIRM:
            confirmed = hash_store.confirm_hashes(session, records)
        feed_store.record_decisions(session, records, decision)
        if item.kind == "quarantine" and item.hash_id is not None:
            state = flood.LIFTED if decision == CONFIRM else flood.UPHELD
            flood.set_state(session, item.hash_id, state, principal.name, now)
        item.status = DECIDED
        item.decision = decision
        item.decided_at = now
        item.upload_hashes = None
    else:
        item.status = ESCALATED
    release(item)
    row = ReviewDecision(
        item_id=item.id,
        decision=decision,
        verdict=VERDICTS[decision],
        key_name=principal.name,
        note=note,
        bank=add_to_bank,
        added=(added.added + added.reactivated) if added else 0,
        created_at=now,
    )
    session.add(row)
    session.flush()
    data = {
        "item_id": item.id,
        "kind": item.kind,
        "content_id": item.content_id,
        "hash_id": item.hash_id,
        "decision": decision,
        "verdict": VERDICTS[decision],
        "banks": sorted({m["bank"] for m in item.matches if m.get("bank")}),
        "added_to_bank": add_to_bank,
        "time": now.isoformat(),
    }
    webhooks.enqueue(session, "review.decided", data)
    details = {k: v for k, v in data.items() if k != "time"} | {"note": note}
    audit.append(
        session, audit.key_actor(principal.name), f"review.{decision}", f"review:{item.id}", details
    )
    return Decided(row, added, confirmed)
