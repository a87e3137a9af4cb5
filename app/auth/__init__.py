"""API keys and scopes.

A key is `hw_` followed by 43 random URL-safe characters. It is shown once, at creation;
the database keeps its SHA-256 (a fast hash is right here: the secret has 256 bits of
entropy, so there is nothing to brute-force) and its first characters, to tell keys apart.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Connection, bindparam, select
from sqlalchemy.orm import Session

from app.audit import store as audit
from app.errors import Conflict, Forbidden, InvalidInput, NotFound, Unauthenticated
from app.models import ApiKey

KEY_PREFIX = "hw_"
SCOPES = frozenset(
    {
        "match",
        "match:details",
        "banks:read",
        "banks:write",
        "review",
        "review:escalated",
        "admin",
    }
)
#: Holding the key scope also grants the listed ones.
IMPLIED = {
    "match:details": {"match"},
    "banks:write": {"banks:read"},
    "review": {"banks:read"},
    "review:escalated": {"review", "banks:read"},
    "admin": set(SCOPES),
}
#: Every request runs this query: built once, since building it and its cache key took
#: about 160 us of the 200 a check cost (one SQLite read by a unique index is 40).
KEY_BY_SECRET = select(ApiKey.name, ApiKey.scopes, ApiKey.revoked_at).where(
    ApiKey.secret_hash == bindparam("secret_hash")
)


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: a key's name and its effective scopes."""

    name: str
    scopes: frozenset[str]

    def has(self, scope: str) -> bool:
        """True if this key may act with `scope`."""
        return scope in self.scopes


def effective_scopes(scopes: list[str]) -> frozenset[str]:
    """Scopes with their implications expanded."""
    granted = set(scopes)
    for scope in scopes:
        granted |= IMPLIED.get(scope, set())
    return frozenset(granted)


def hash_secret(key: str) -> str:
    """The stored form of a key."""
    return hashlib.sha256(key.encode()).hexdigest()


def create_key(session: Session, name: str, scopes: list[str], actor: str = "cli") -> str:
    """Store a new key and return its secret, which is never shown again; `actor` is
    who the audit trail says created it."""
    unknown = sorted(set(scopes) - SCOPES)
    if unknown or not scopes:
        raise InvalidInput(
            f"unknown scopes {unknown}; known: {sorted(SCOPES)}"
            if unknown
            else "a key needs at least one scope"
        )
    if session.scalar(select(ApiKey.id).where(ApiKey.name == name)) is not None:
        raise Conflict(f"a key named {name!r} already exists")
    secret = KEY_PREFIX + secrets.token_urlsafe(32)
    session.add(
        ApiKey(name=name, prefix=secret[:8], secret_hash=hash_secret(secret), scopes=sorted(scopes))
    )
    session.flush()
    audit.append(session, actor, "key.create", f"key:{name}", {"scopes": sorted(scopes)})
    return secret


def revoke_key(session: Session, name: str, actor: str = "cli") -> None:
    """Revoke a key by name. Servers refuse it within `KeyCache.seconds`."""
    key = session.scalar(select(ApiKey).where(ApiKey.name == name))
    if key is None:
        raise NotFound(f"no key named {name!r}")
    if key.revoked_at is None:
        key.revoked_at = datetime.now(UTC)
        audit.append(session, actor, "key.revoke", f"key:{name}")


def list_keys(session: Session) -> list[ApiKey]:
    """Every key, newest first."""
    return list(session.scalars(select(ApiKey).order_by(ApiKey.created_at.desc(), ApiKey.id)))


class KeyCache:
    """Principals of keys the database accepted less than `seconds` ago, by secret hash.

    The key check was the dearest step of a single lookup: through SQLAlchemy it took
    about 0.3 ms of the 0.8 a request cost one server process here, more than the rest of
    the lookup. An upload pipeline sends thousands of requests a second with one key, so
    nearly every check is answered here. What it costs: a key revoked in another process
    (`hashwall keys revoke`) goes on working for up to `seconds` in each server. Only
    accepted keys are kept; an unknown or revoked one is looked up every time. `seconds`
    of 0 checks the database on every request.
    """

    def __init__(self, seconds: float, size: int = 1024) -> None:
        self.seconds = seconds
        self.size = size
        self._principals: dict[str, tuple[Principal, float]] = {}

    def get(self, secret_hash: str) -> Principal | None:
        """The principal of a key accepted within the last `seconds`, if any."""
        entry = self._principals.get(secret_hash)
        if entry is None or entry[1] <= time.monotonic():
            return None
        return entry[0]

    def put(self, secret_hash: str, principal: Principal) -> None:
        """Remember a key the database has just accepted."""
        if self.seconds <= 0:
            return
        if len(self._principals) >= self.size:
            # Many keys at once: start over rather than track which is oldest.
            self._principals = {}
        self._principals[secret_hash] = (principal, time.monotonic() + self.seconds)


def bearer_token(authorization: str | None) -> str:
    """The key in an `Authorization: Bearer` header, or raise `Unauthenticated`."""
    if not authorization:
        raise Unauthenticated("missing Authorization header; send 'Authorization: Bearer <key>'")
    scheme, _, token = authorization.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise Unauthenticated("Authorization header must be 'Bearer <key>'")
    return token


def principal_of(connection: Connection | Session, secret_hash: str) -> Principal:
    """The principal of the key whose secret hashes to `secret_hash`, or raise
    `Unauthenticated`. The query reads three columns by a unique index."""
    row = connection.execute(KEY_BY_SECRET, {"secret_hash": secret_hash}).first()
    if row is None:
        raise Unauthenticated("invalid API key")
    if row.revoked_at is not None:
        raise Unauthenticated("API key has been revoked")
    return Principal(row.name, effective_scopes(row.scopes))


def require_scope(principal: Principal, scope: str) -> None:
    """Raise `Forbidden` unless the principal holds `scope`."""
    if not principal.has(scope):
        raise Forbidden(f"API key {principal.name!r} lacks the {scope!r} scope")
