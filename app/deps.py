"""Dependencies routes declare with `Annotated[..., Depends()]`.

FastAPI runs each synchronous dependency in the thread pool, a hop that costs more than
a hash lookup and the key check together; so these are `async`. The key check is one
indexed read by the key's hash, done on the event loop, and usually not even that: a key
accepted within the last second is taken from the process's `KeyCache`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security.http import HTTPBase
from sqlalchemy.orm import Session

from app.auth import Principal, bearer_token, hash_secret, principal_of, require_scope
from app.state import AppState


async def get_state(request: Request) -> AppState:
    """The state the lifespan built."""
    state: AppState = request.app.state.hashwall
    return state


StateDep = Annotated[AppState, Depends(get_state)]


def get_session(state: StateDep) -> Iterator[Session]:
    """A session for one request; routes open their own transaction."""
    with state.sessions() as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]


class KeyScope(HTTPBase):
    """The caller's principal, from `Authorization: Bearer <key>`, if the key holds
    `scope`. As a FastAPI security scheme it is documented in the OpenAPI schema, and
    FastAPI hands it only the request: a `Header` parameter in its place cost a typing
    check of the parameter on every request."""

    def __init__(self, scope: str) -> None:
        super().__init__(
            scheme="bearer",
            scheme_name="apiKey",
            description="An API key (`hashwall keys create`), sent as `Authorization: Bearer "
            "<key>`. Each route needs one scope: match, match:details, banks:read, "
            "banks:write, review, review:escalated or admin.",
            auto_error=False,
        )
        self.scope = scope

    async def __call__(self, request: Request) -> Principal:  # type: ignore[override]
        state: AppState = request.app.state.hashwall
        secret_hash = hash_secret(bearer_token(request.headers.get("authorization")))
        principal = state.keys.get(secret_hash)
        if principal is None:
            with state.engine.connect() as connection:
                principal = principal_of(connection, secret_hash)
            state.keys.put(secret_hash, principal)
        request.scope.setdefault("state", {})["key_name"] = principal.name
        require_scope(principal, self.scope)
        return principal


MatchKey = Annotated[Principal, Depends(KeyScope("match"))]
BanksReadKey = Annotated[Principal, Depends(KeyScope("banks:read"))]
BanksWriteKey = Annotated[Principal, Depends(KeyScope("banks:write"))]
ReviewKey = Annotated[Principal, Depends(KeyScope("review"))]
AdminKey = Annotated[Principal, Depends(KeyScope("admin"))]
