"""The review queue: filter, claim, release, decide (with keyboard shortcuts)."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from app.models import utcnow
from app.policy import Action
from app.review import store
from app.review.schemas import ReviewDecisionBody
from app.review.views import item_views
from app.routes.reviews import claim_review, cursor_of, record_decision, release_review
from app.store import banks as bank_store
from app.ui.base import field, form_of, page, parsed, redirect, render, state_of
from app.ui.session import UiSession

PAGE = 25


def item_id_of(request: Request) -> int:
    """The item id in the path."""
    return int(request.path_params["item_id"])


@page()
async def queue(request: Request, session: UiSession) -> Response:
    """Items filtered by status (open by default) and bank, oldest first."""
    state = state_of(request)
    asked = request.query_params.get("status", store.UNDECIDED)
    status = None if asked in ("", "all") else asked
    bank = request.query_params.get("bank") or None
    cursor = cursor_of(request.query_params.get("cursor"))

    def gather() -> dict[str, object]:
        now = utcnow()
        with state.sessions() as db:
            items, after = store.page(db, now, status, bank, cursor, PAGE)
            banks = bank_store.list_banks(db)
            return {
                "items": item_views(db, items, now, state.settings.content_url_template),
                "next": after,
                "banks": [b.name for b in banks],
                "allow_banks": [b.name for b in banks if b.action == Action.ALLOW.value],
                "block_banks": [b.name for b in banks if b.action != Action.ALLOW.value],
            }

    context = await run_in_threadpool(gather)
    return render(
        request,
        "reviews.html",
        session,
        status=200,
        statuses=store.STATUSES,
        current_status=status or "",
        current_bank=bank or "",
        **context,
    )


async def back_to_queue(request: Request, message: str) -> Response:
    """The queue again, as the moderator had filtered it (the forms carry the filters)."""
    form = await form_of(request)
    filters = {k: field(form, k) for k in ("status", "bank") if field(form, k)}
    return redirect(request, "/ui/reviews", message, **filters)


async def on_item(
    request: Request, session: UiSession, action: Callable[..., object], message: str
) -> Response:
    """Run an API action (`claim_review`, `release_review`) on the item in the path, then
    show the queue with `message` (`{id}` is the item's)."""
    state, item_id = state_of(request), item_id_of(request)

    def run() -> None:
        with state.sessions() as db:
            action(item_id, state, db, session.principal)

    await run_in_threadpool(run)
    return await back_to_queue(request, message.format(id=item_id))


@page()
async def claim(request: Request, session: UiSession) -> Response:
    """Claim an item for the lease time."""
    return await on_item(request, session, claim_review, "Item {id} is yours for a while.")


@page()
async def release(request: Request, session: UiSession) -> Response:
    """Give an item back to the queue."""
    return await on_item(request, session, release_review, "Item {id} is back in the queue.")


@page()
async def decide(request: Request, session: UiSession) -> Response:
    """Confirm, dismiss or escalate an item, with an optional note and bank."""
    state, item_id = state_of(request), item_id_of(request)
    form = await form_of(request)
    body = parsed(
        ReviewDecisionBody,
        {
            "decision": field(form, "decision"),
            "note": field(form, "note") or None,
            "add_to_bank": field(form, "add_to_bank") or None,
        },
    )

    def run() -> None:
        with state.sessions() as db:
            record_decision(state, db, session.principal, item_id, body)

    await run_in_threadpool(run)
    done = {"confirm": "confirmed", "dismiss": "dismissed", "escalate": "escalated"}
    return await back_to_queue(request, f"Item {item_id} {done[body.decision]}.")
