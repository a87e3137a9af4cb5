"""UI sessions: an API key exchanged for a signed cookie, and CSRF tokens on every form.

The cookie holds the SHA-256 of the key (what the database stores), never the key, and
a random CSRF token; it is signed (itsdangerous) with `HASHWALL_SESSION_SECRET`, or a
random secret per process when that is empty (a restart then logs everyone out). It is
HttpOnly and SameSite=Strict, Secure over HTTPS, and expires after `MAX_AGE`. Every
request looks the key up again (through the key cache), so a revoked key's session ends
within a second. Every POST must carry the session's CSRF token, as the `csrf` form
field or the `X-CSRF-Token` header.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass

from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.requests import Request
from starlette.responses import Response

from app.auth import Principal, hash_secret, principal_of
from app.errors import Forbidden, Unauthenticated
from app.state import AppState

COOKIE = "hashwall_session"
MAX_AGE = 12 * 3600
#: A key needs one of these to log in to the UI.
UI_SCOPES = ("review", "admin")


@dataclass(frozen=True, slots=True)
class UiSession:
    """Who is logged in, and the token their forms carry."""

    principal: Principal
    csrf: str


class Sessions:
    """Signs and reads session cookies for one app."""

    def __init__(self, secret: str) -> None:
        self._serializer = URLSafeTimedSerializer(
            secret or secrets.token_urlsafe(32), salt="hashwall-ui"
        )

    def log_in(self, state: AppState, key: str, response: Response, secure: bool) -> Principal:
        """Check a key and set the session cookie on `response`."""
        secret_hash = hash_secret(key.strip())
        with state.engine.connect() as connection:
            principal = principal_of(connection, secret_hash)
        if not any(principal.has(scope) for scope in UI_SCOPES):
            raise Forbidden(
                f"API key {principal.name!r} has neither the review nor the admin scope"
            )
        token = self._serializer.dumps({"k": secret_hash, "c": secrets.token_urlsafe(24)})
        response.set_cookie(
            COOKIE,
            token,
            max_age=MAX_AGE,
            httponly=True,
            samesite="strict",
            secure=secure,
            path="/ui",
        )
        return principal

    @staticmethod
    def log_out(response: Response) -> None:
        """Drop the session cookie."""
        response.delete_cookie(COOKIE, path="/ui")

    def current(self, state: AppState, request: Request) -> UiSession | None:
        """The session of a request, or None (no cookie, a bad or old one, a revoked key)."""
        token = request.cookies.get(COOKIE)
        if not token:
            return None
        try:
            data = self._serializer.loads(token, max_age=MAX_AGE)
        except BadSignature:
            return None
        secret_hash = data.get("k", "")
        principal = state.keys.get(secret_hash)
        if principal is None:
            try:
                with state.engine.connect() as connection:
                    principal = principal_of(connection, secret_hash)
            except Unauthenticated:
                return None
            state.keys.put(secret_hash, principal)
        if not any(principal.has(scope) for scope in UI_SCOPES):
            return None
        return UiSession(principal, data.get("c", ""))

    def flash(self, message: str) -> str:
        """A message for the next page, signed so no link can put words in its mouth."""
        return self._serializer.dumps(message, salt="flash")

    def read_flash(self, token: str | None) -> str | None:
        """The message a redirect carried, if it is ours and fresh."""
        if not token:
            return None
        try:
            message = self._serializer.loads(token, salt="flash", max_age=60)
        except BadSignature:
            return None
        return message if isinstance(message, str) else None


def check_csrf(session: UiSession, sent: str | None) -> None:
    """Raise `Forbidden` unless a POST carried the session's CSRF token. Forms send it
    as the `csrf` field (read by the caller: a multipart form must be parsed in memory,
    never by Starlette's spooling parser), htmx as the `X-CSRF-Token` header."""
    if not sent or not hmac.compare_digest(sent, session.csrf):
        raise Forbidden("the form's CSRF token is missing or wrong: reload the page")
