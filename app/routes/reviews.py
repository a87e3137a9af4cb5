"""The review queue under /v1/reviews: list, claim, release, decide."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
from fastapi import APIRouter, Query

from app.auth import Principal
from app.deps import ReviewKey, SessionDep, StateDep
from app.errors import Conflict, InvalidInput
from app.models import utcnow
from app.review import store
from app.review.decide import decide, may_work_on
from app.review.schemas import ClaimResult, ReviewDecisionBody, ReviewPage
from app.review.views import item_views
from app.routes.banks import commit_and_index
from app.state import AppState

router = APIRouter(prefix="/v1/reviews", tags=["reviews"])

PAGE = 50


def cursor_of(cursor: str | None) -> int | None:
    """A page cursor (an item id as text), or raise `InvalidInput`."""
    if cursor is None or cursor == "":
        return None
    if not cursor.isdigit() or len(cursor) > 18:
        raise InvalidInput(
            "cursor must be the `next` value of a previous page",
            [{"pointer": "/query/cursor", "detail": "not a cursor"}],
        )
    return int(cursor)


@router.get("", response_model=ReviewPage)
def list_reviews(
    state: StateDep,
    session: SessionDep,
    _: ReviewKey,
    status: str | None = Query(
        default=None,
        description="open, claimed, escalated, decided, or undecided (any but decided)",
    ),
    bank: str | None = Query(default=None, max_length=100),
    cursor: str | None = Query(default=None, max_length=32),
    limit: int = Query(default=PAGE, ge=1, le=200),
) -> ReviewPage:
    """Queue items, oldest first, with their matches' context; `next` pages on."""
    now = utcnow()
    items, after = store.page(session, now, status, bank, cursor_of(cursor), limit)
    views = item_views(session, items, now, state.settings.content_url_template)
    return ReviewPage(items=views, next=str(after) if after is not None else None)


@router.get("/{item_id}")
def get_review(item_id: int, state: StateDep, session: SessionDep, _: ReviewKey) -> dict:  # type: ignore[type-arg]
    """One item, with its decisions and its matches' context."""
    now = utcnow()
    item = store.get_item(session, item_id)
    return item_views(session, [item], now, state.settings.content_url_template)[0]


@router.post("/{item_id}/claim", response_model=ClaimResult)
def claim_review(
    item_id: int, state: StateDep, session: SessionDep, principal: ReviewKey
) -> ClaimResult:
    """Claim an item for `HASHWALL_REVIEW_LEASE_SECONDS`; claiming it again renews the
    lease. 409 while another key holds it."""
    now = utcnow()
    until = now + timedelta(seconds=state.settings.review_lease_seconds)
    with session.begin():
        item = store.get_item(session, item_id)
        may_work_on(principal, item)
        if not store.claim(session, item_id, principal.name, now, until):
            session.refresh(item)
            raise Conflict(
                f"review item {item_id} is claimed by {item.claimed_by!r} until "
                f"{item.lease_until.isoformat() if item.lease_until else 'now'}"
            )
    return ClaimResult(id=item_id, claimed_by=principal.name, lease_until=until.isoformat())


@router.post("/{item_id}/release")
def release_review(
    item_id: int, state: StateDep, session: SessionDep, principal: ReviewKey
) -> dict:  # type: ignore[type-arg]
    """Give a claimed item back to the queue (the holder, or `admin`)."""
    now = utcnow()
    with session.begin():
        item = store.get_item(session, item_id, lock=True)
        if (
            store.leased(item, now)
            and item.claimed_by != principal.name
            and not principal.has("admin")
        ):
            raise Conflict(f"review item {item_id} is claimed by {item.claimed_by!r}")
        store.release(item)
    return item_views(session, [item], now, state.settings.content_url_template)[0]


@router.post("/{item_id}/decision")
def decide_review(
    item_id: int,
    body: ReviewDecisionBody,
    state: StateDep,
    session: SessionDep,
    principal: ReviewKey,
) -> dict:  # type: ignore[type-arg]
    """Decide an item you hold the claim on (`admin` may decide unclaimed items)."""
    return record_decision(state, session, principal, item_id, body)


def record_decision(
    state: AppState,
    session: SessionDep,
    principal: Principal,
    item_id: int,
    body: ReviewDecisionBody,
) -> dict:  # type: ignore[type-arg]
    """Decide, commit, and make what the decision changed matchable at once (the UI
    calls this too)."""
    now = utcnow()
    transaction = session.begin()
    try:
        item = store.get_item(session, item_id, lock=True)
        done = decide(
            session,
            state.registry,
            item,
            principal,
            body.decision,
            body.note,
            body.add_to_bank,
            now,
        )
    except BaseException:
        transaction.rollback()
        raise
    commit_and_index(state, transaction, done.added)
    if done.confirmed:
        state.live.catalogue.confirm(np.array(done.confirmed, dtype=np.int64))
    if item.kind == "quarantine":
        state.live.refresh_quarantine(session)
    return item_views(session, [item], now, state.settings.content_url_template)[0]
