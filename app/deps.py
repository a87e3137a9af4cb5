"""Dependencies routes declare with `Annotated[..., Depends()]`."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Annotated

from fastapi import Depends, Header, Request
from sqlalchemy.orm import Session

from app.auth import Principal, authenticate, require_scope
from app.state import AppState


def get_state(request: Request) -> AppState:
    """The state the lifespan built."""
    state: AppState = request.app.state.hashwall
    return state


StateDep = Annotated[AppState, Depends(get_state)]


def get_session(state: StateDep) -> Iterator[Session]:
    """A session for one request; routes open their own transaction."""
    with state.sessions() as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]


def get_principal(
    request: Request,
    state: StateDep,
    authorization: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> Principal:
    """The caller, from `Authorization: Bearer <key>`."""
    with state.sessions() as session:
        principal = authenticate(session, authorization)
    request.scope.setdefault("state", {})["key_name"] = principal.name
    return principal


def scoped(scope: str) -> Callable[..., Principal]:
    """A dependency that authenticates the caller and requires `scope`."""

    def dependency(principal: Annotated[Principal, Depends(get_principal)]) -> Principal:
        require_scope(principal, scope)
        return principal

    return dependency


MatchKey = Annotated[Principal, Depends(scoped("match"))]
BanksReadKey = Annotated[Principal, Depends(scoped("banks:read"))]
BanksWriteKey = Annotated[Principal, Depends(scoped("banks:write"))]
