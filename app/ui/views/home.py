"""Log in and out, and the overview page."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from app.errors import HashwallError
from app.ledger import hits
from app.models import SweepState, utcnow
from app.review import flood
from app.review import store as review_store
from app.store import banks as bank_store
from app.store import feeds as feed_store
from app.store import verdicts
from app.ui.base import field, page, redirect, render, sessions_of, state_of
from app.ui.charts import verdicts_per_hour
from app.ui.session import UiSession


async def login_page(request: Request) -> Response:
    """The login form (or, already logged in, the overview)."""
    if sessions_of(request).current(state_of(request), request) is not None:
        return redirect(request, "/ui/")
    return render(request, "login.html", None, next=request.query_params.get("next", "/ui/"))


async def log_in(request: Request) -> Response:
    """Exchange an API key (scope review or admin) for a session cookie."""
    form = await request.form()
    key, target = field(form, "key"), field(form, "next", "/ui/")
    if not target.startswith("/ui/") or target.startswith("//"):
        target = "/ui/"
    response = redirect(request, target)
    try:
        await run_in_threadpool(
            sessions_of(request).log_in,
            state_of(request),
            key,
            response,
            request.url.scheme == "https",
        )
    except HashwallError as error:
        return render(request, "login.html", None, status=error.status, error=error.detail)
    return response


@page()
async def log_out(request: Request, session: UiSession) -> Response:
    """End the session."""
    response = redirect(request, "/ui/login")
    sessions_of(request).log_out(response)
    return response


@page()
async def overview(request: Request, session: UiSession) -> Response:
    """Index size per bank and signal type, verdicts per hour, feeds, backlog, quarantine,
    and the takedown sweep."""
    state = state_of(request)
    now = utcnow()

    def gather() -> dict[str, Any]:
        with state.sessions() as db:
            banks = {b.id: b.name for b in bank_store.list_banks(db)}
            sizes = [
                (banks.get(bank_id, "?"), signal_type, count)
                for (bank_id, signal_type), count in sorted(
                    bank_store.active_counts_by_type(db).items(),
                    key=lambda kv: (banks.get(kv[0][0], ""), kv[0][1]),
                )
            ]
            backlog, oldest = review_store.backlog(db)
            return {
                "sizes": sizes,
                "chart": verdicts_per_hour(verdicts.hourly(db, now - timedelta(hours=24)), now),
                "feeds": feed_store.feed_states(db),
                "backlog": backlog,
                "oldest": oldest,
                "quarantined": flood.listed(db),
                "lag": state.follower.lag(),
                "sweep": db.get(SweepState, hits.STATE_ID),
                "ledger_days": state.settings.ledger_days,
            }

    return render(request, "overview.html", session, **await run_in_threadpool(gather))
