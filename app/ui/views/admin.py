"""Feeds, webhooks and the audit trail."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from app.audit import store as audit
from app.errors import InvalidInput
from app.review.schemas import WebhookCreate
from app.routes import webhooks as webhook_routes
from app.routes.reviews import cursor_of
from app.store import feeds as feed_store
from app.ui.base import field, form_of, page, parsed, redirect, render, state_of
from app.ui.session import UiSession
from app.webhooks.store import EVENTS


@page()
async def feeds(request: Request, session: UiSession) -> Response:
    """Each feed's state: checkpoint, counts, feedback, last success and error."""
    state = state_of(request)

    def gather() -> list[Any]:
        with state.sessions() as db:
            return feed_store.feed_states(db)

    return render(request, "feeds.html", session, feeds=await run_in_threadpool(gather))


async def _webhooks_page(request: Request, session: UiSession, **extra: Any) -> Response:
    state = state_of(request)

    def gather() -> list[Any]:
        with state.sessions() as db:
            return webhook_routes.list_webhooks(db, session.principal).webhooks

    hooks = await run_in_threadpool(gather)
    return render(request, "webhooks.html", session, webhooks=hooks, events=sorted(EVENTS), **extra)


@page("admin")
async def webhooks(request: Request, session: UiSession) -> Response:
    """Webhooks with their delivery state."""
    return await _webhooks_page(request, session)


@page("admin")
async def create_webhook(request: Request, session: UiSession) -> Response:
    """Create a webhook and show its secret, once."""
    state, form = state_of(request), await form_of(request)
    body = parsed(
        WebhookCreate,
        {
            "url": field(form, "url"),
            "events": [e for e in form.getlist("events") if isinstance(e, str)],
            "description": field(form, "description"),
        },
    )

    def run() -> Any:
        with state.sessions() as db:
            return webhook_routes.create_webhook(body, db, session.principal)

    created = await run_in_threadpool(run)
    return await _webhooks_page(request, session, created=created)


@page("admin")
async def delete_webhook(request: Request, session: UiSession) -> Response:
    """Remove a webhook."""
    state, webhook_id = state_of(request), request.path_params["webhook_id"]

    def run() -> None:
        with state.sessions() as db:
            webhook_routes.delete_webhook(webhook_id, db, session.principal)

    await run_in_threadpool(run)
    return redirect(request, "/ui/webhooks", f"Webhook {webhook_id} removed.")


def _time(value: str | None, name: str) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise InvalidInput(f"{name} must be a date and time, e.g. 2026-12-01T00:00") from None


@page("admin")
async def audit_page(request: Request, session: UiSession) -> Response:
    """The audit trail, filtered by actor, action, target and time, newest first."""
    state, query = state_of(request), request.query_params
    filters = audit.Filters(
        query.get("actor") or None,
        query.get("action") or None,
        query.get("target") or None,
        _time(query.get("since"), "since"),
        _time(query.get("until"), "until"),
    )
    before = cursor_of(query.get("cursor"))

    def gather() -> tuple[list[Any], int | None]:
        with state.sessions() as db:
            rows, after = audit.page(db, filters, before, 50)
            return [audit.public(r) for r in rows], after

    rows, after = await run_in_threadpool(gather)
    return render(request, "audit.html", session, rows=rows, next=after, filters=dict(query))
