"""Dependencies routes declare with `Annotated[..., Depends()]`.

FastAPI runs each synchronous dependency in the thread pool, a hop that costs more than
a hash lookup and the key check together; so these are `async`. The key check is one
indexed read by the key's hash, done on the event loop, and usually not even that: a key
accepted within the last second is taken from the process's `KeyCache`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from typing import Annotated

from fastapi import Depends, Header, Request
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


def scoped(scope: str) -> Callable[..., Awaitable[Principal]]:
    """A dependency that authenticates the caller and requires `scope`."""

    async def dependency(
        request: Request,
        authorization: Annotated[str | None, Header(include_in_schema=False)] = None,
    ) -> Principal:
        state: AppState = request.app.state.hashwall
        secret_hash = hash_secret(bearer_token(authorization))
        principal = state.keys.get(secret_hash)
        if principal is None:
            with state.engine.connect() as connection:
                principal = principal_of(connection, secret_hash)
            state.keys.put(secret_hash, principal)
        request.scope.setdefault("state", {})["key_name"] = principal.name
        require_scope(principal, scope)
        return principal

    return dependency


MatchKey = Annotated[Principal, Depends(scoped("match"))]
BanksReadKey = Annotated[Principal, Depends(scoped("banks:read"))]
BanksWriteKey = Annotated[Principal, Depends(scoped("banks:write"))]
