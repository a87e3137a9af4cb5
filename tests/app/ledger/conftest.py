"""An app with the content ledger on, and a worker that sweeps it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from app.config import Settings
from app.db import make_session_factory
from app.feeds.runner import FeedRunner
from app.ledger.sweep import Sweeper
from app.main import create_app
from app.models import utcnow
from app.worker.run import Worker
from matcher.signals import default_registry
from tests.app.conftest import Moderation


@pytest.fixture
def ledger_settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"ledger_days": 90})


@pytest.fixture
def ledger_client(
    ledger_settings: Settings, engine: Engine, keys: dict[str, str]
) -> Iterator[TestClient]:
    with TestClient(create_app(ledger_settings), raise_server_exceptions=False) as client:
        yield client


@pytest.fixture
def hub(ledger_client: TestClient, keys: dict[str, str]) -> Moderation:
    """Banks, hashes and lookups through HTTP on the ledger app."""
    return Moderation(ledger_client, keys)


@pytest.fixture
def worker(ledger_settings: Settings, engine: Engine) -> Iterator[Worker]:
    """A worker that sweeps (driven a duty at a time by the tests)."""
    sessions = make_session_factory(engine)
    sweeper = Sweeper(ledger_settings, engine, sessions, default_registry())
    with httpx.Client() as http:
        runner = Worker(
            ledger_settings,
            sessions,
            FeedRunner(sessions, lambda feed: None),  # type: ignore[arg-type,return-value]
            http,
            owner="test-worker",
            sweeper=sweeper,
        )
        yield runner
        runner.close()


def ledger_row(
    content_id: str, value: str, seen_seq: int = 0, at: datetime | None = None
) -> dict[str, Any]:
    """A ledger row of an upload's own pdq, as the recorder writes it."""
    return {
        "content_id": content_id,
        "recorded_at": at or utcnow(),
        "signal_type": "pdq",
        "value": value,
        "quality": 100,
        "candidate": None,
        "detailed": None,
        "seen_seq": seen_seq,
    }
