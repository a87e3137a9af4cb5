"""API keys and scopes.

A key is `hw_` followed by 43 random URL-safe characters. It is shown once, at creation;
the database keeps its SHA-256 (a fast hash is right here: the secret has 256 bits of
entropy, so there is nothing to brute-force) and its first characters, to tell keys apart.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Connection, bindparam, select
from sqlalchemy.orm import Session

from app.errors import Conflict, Forbidden, InvalidInput, NotFound, Unauthenticated
from app.models import ApiKey

KEY_PREFIX = "hw_"
SCOPES = frozenset({"match", "match:details", "banks:read", "banks:write", "admin"})
#: Holding the key scope also grants the listed ones.
IMPLIED = {"match:details": {"match"}, "banks:write": {"banks:read"}, "admin": set(SCOPES)}
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


def create_key(session: Session, name: str, scopes: list[str]) -> str:
    """Store a new key and return its secret, which is never shown again."""
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
    return secret


def revoke_key(session: Session, name: str) -> None:
    """Revoke a key by name; it stops working on the next request."""
    key = session.scalar(select(ApiKey).where(ApiKey.name == name))
    if key is None:
        raise NotFound(f"no key named {name!r}")
    if key.revoked_at is None:
        key.revoked_at = datetime.now(UTC)


def list_keys(session: Session) -> list[ApiKey]:
    """Every key, newest first."""
    return list(session.scalars(select(ApiKey).order_by(ApiKey.created_at.desc(), ApiKey.id)))


def authenticate(connection: Connection | Session, authorization: str | None) -> Principal:
    """The principal for an `Authorization: Bearer` header, or raise `Unauthenticated`.

    Every request checks the database, so a revoked key stops working at once, in every
    process; the query reads three columns by a unique index.
    """
    if not authorization:
        raise Unauthenticated("missing Authorization header; send 'Authorization: Bearer <key>'")
    scheme, _, token = authorization.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise Unauthenticated("Authorization header must be 'Bearer <key>'")
    row = connection.execute(KEY_BY_SECRET, {"secret_hash": hash_secret(token)}).first()
    if row is None:
        raise Unauthenticated("invalid API key")
    if row.revoked_at is not None:
        raise Unauthenticated("API key has been revoked")
    return Principal(row.name, effective_scopes(row.scopes))


def require_scope(principal: Principal, scope: str) -> None:
    """Raise `Forbidden` unless the principal holds `scope`."""
    if not principal.has(scope):
        raise Forbidden(f"API key {principal.name!r} lacks the {scope!r} scope")
