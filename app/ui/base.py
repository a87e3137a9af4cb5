"""What every UI view shares: templates, the logged-in session, forms, and redirects.

Views are thin: they read a form, call the same store and route functions the API
calls, and render a template. A `HashwallError` from them becomes a message on the page
(and its HTTP status), never a stack trace.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlencode

from pydantic import BaseModel, ValidationError
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.templating import Jinja2Templates

from app.errors import Forbidden, HashwallError, InvalidInput
from app.state import AppState
from app.ui.session import Sessions, UiSession, check_csrf

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=HERE / "templates")
#: Pages a session may see by scope: (path, label, scope needed).
NAV = (
    ("/ui/", "Overview", "review"),
    ("/ui/reviews", "Review queue", "review"),
    ("/ui/banks", "Banks", "review"),
    ("/ui/lookup", "Lookup", "review"),
    ("/ui/feeds", "Feeds", "review"),
    ("/ui/webhooks", "Webhooks", "admin"),
    ("/ui/audit", "Audit", "admin"),
)
#: Headers on every UI page: nothing from elsewhere, no framing.
SECURITY_HEADERS = {
    "content-security-policy": "default-src 'self'; img-src 'self' data:; "
    "frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
    "x-frame-options": "DENY",
    "referrer-policy": "same-origin",
    "x-content-type-options": "nosniff",
    "cache-control": "no-store",
}


def state_of(request: Request) -> AppState:
    """The app's state."""
    state: AppState = request.app.state.hashwall
    return state


def sessions_of(request: Request) -> Sessions:
    """The app's UI session signer."""
    sessions: Sessions = request.app.state.ui_sessions
    return sessions


def render(
    request: Request,
    template: str,
    session: UiSession | None,
    status: int = 200,
    **context: Any,
) -> Response:
    """A page, with the navigation the session may use and any flash message."""
    principal = session.principal if session else None
    nav = [(path, label) for path, label, scope in NAV if principal and principal.has(scope)]
    context.setdefault("message", sessions_of(request).read_flash(request.query_params.get("m")))
    response = templates.TemplateResponse(
        request,
        template,
        {"session": session, "principal": principal, "nav": nav, "path": request.url.path}
        | context,
        status_code=status,
    )
    response.headers.update(SECURITY_HEADERS)
    return response


def redirect(request: Request, path: str, message: str | None = None, **params: str) -> Response:
    """See other: back to a page after a POST, with a message for it."""
    query = dict(params)
    if message:
        query["m"] = sessions_of(request).flash(message)
    url = path + (f"?{urlencode(query)}" if query else "")
    return RedirectResponse(url, status_code=303)


View = Callable[[Request, UiSession], Awaitable[Response]]


def page(
    scope: str = "review", multipart: bool = False
) -> Callable[[View], Callable[[Request], Awaitable[Response]]]:
    """A view for logged-in sessions with `scope`: others go to the login page (or get a
    403 page); a POST must carry the CSRF token; errors become messages. A `multipart`
    view reads its form in memory itself and must pass its `csrf` field to `check_csrf`;
    other views take urlencoded forms only."""

    def wrap(view: View) -> Callable[[Request], Awaitable[Response]]:
        @wraps(view)
        async def handler(request: Request) -> Response:
            session = sessions_of(request).current(state_of(request), request)
            if session is None:
                return redirect(request, "/ui/login", next=request.url.path)
            try:
                if not session.principal.has(scope):
                    raise Forbidden(f"this page needs the {scope} scope")
                if request.method == "POST":
                    sent: Any = request.headers.get("x-csrf-token")
                    if sent is None and _urlencoded(request):
                        sent = (await request.form()).get("csrf")
                    elif sent is None and not multipart:
                        raise Forbidden("forms are sent urlencoded, with their CSRF token")
                    if sent is not None or not multipart:
                        check_csrf(session, sent if isinstance(sent, str) else None)
                return await view(request, session)
            except HashwallError as error:
                return render(
                    request, "error.html", session, status=error.status, error=error.detail
                )

        return handler

    return wrap


def _urlencoded(request: Request) -> bool:
    return request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded")


async def form_of(request: Request) -> FormData:
    """A urlencoded form (`page` has refused any other kind unless the view is multipart)."""
    return await request.form()


def field(form: FormData, name: str, default: str = "") -> str:
    """One text field of a form, stripped."""
    value = form.get(name, default)
    return value.strip() if isinstance(value, str) else default


M = TypeVar("M", bound=BaseModel)


def parsed(model: type[M], data: dict[str, Any]) -> M:
    """A request model from form fields, or raise `InvalidInput` naming what was wrong."""
    try:
        return model.model_validate(data)
    except ValidationError as error:
        detail = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'form'}: {e['msg']}" for e in error.errors()
        )
        raise InvalidInput(detail) from None
