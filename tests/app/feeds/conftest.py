"""Fixtures for feed tests: a local feed server, a bank, credentials, and a runner."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import httpx
import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from app.db import make_session_factory
from app.errors import NotFound
from app.feeds.kinds import adapter_factory
from app.feeds.runner import Backoff, FeedRunner
from app.models import HashRecord
from app.policy import Action
from app.store import banks as bank_store
from app.store import feeds as feed_store
from matcher.signals import default_registry
from tests import feedserver
from tests.feedserver import FeedState

#: Retries fast enough for tests, the same logic as in production.
FAST = Backoff(attempts=5, base=0.01, ceiling=0.05)


@pytest.fixture
def server() -> Iterator[tuple[str, FeedState]]:
    with feedserver.feed_server() as running:
        yield running


@pytest.fixture
def credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HASHWALL_STOPNCII_SUBSCRIPTION_KEY", feedserver.SUBSCRIPTION_KEY)
    monkeypatch.setenv("HASHWALL_STOPNCII_FETCH_KEY", feedserver.FETCH_KEY)
    monkeypatch.setenv("HASHWALL_STOPNCII_FEEDBACK_KEY", feedserver.FEEDBACK_KEY)
    monkeypatch.setenv("HASHWALL_THREATEXCHANGE_TOKEN", feedserver.TE_TOKEN)


@pytest.fixture
def sessions(engine: Engine) -> sessionmaker[Session]:
    return make_session_factory(engine)


@pytest.fixture
def add_feed(sessions: sessionmaker[Session]) -> Callable[..., None]:
    """Create a bank (if needed) and a feed filling it."""

    def create(name: str, kind: str, url: str, bank: str = "ncii", **options: object) -> None:
        with sessions() as session, session.begin():
            try:
                target = bank_store.get_bank(session, bank)
            except NotFound:
                target = bank_store.create_bank(session, default_registry(), bank, Action.BLOCK)
            feed_store.create_feed(session, name, kind, url, target, **options)  # type: ignore[arg-type]

    return create


@pytest.fixture
def runner(sessions: sessionmaker[Session], credentials: None) -> Iterator[FeedRunner]:
    with httpx.Client(timeout=2.0) as http:
        yield FeedRunner(sessions, adapter_factory(http, default_registry()), FAST)


@pytest.fixture
def statuses(sessions: sessionmaker[Session]) -> Callable[[], dict[str, str]]:
    """Every hash value in the database with its status."""

    def read() -> dict[str, str]:
        with sessions() as session:
            rows = session.execute(select(HashRecord.value, HashRecord.status))
            return {value: status for value, status in rows}

    return read
