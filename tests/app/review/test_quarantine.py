"""Flood quarantine: a hash matching far over its baseline stops blocking until a
moderator lifts it."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from app.config import Settings
from app.db import make_session_factory
from app.main import create_app
from app.models import AuditRow, HashMatchCount, WebhookDelivery, utcnow
from app.review import flood
from tests.app.conftest import Moderation
from tests.factories import random_pdq


@pytest.fixture
def flood_client(settings: Settings, engine: Engine, keys: dict[str, str]) -> Iterator[TestClient]:
    flooding = settings.model_copy(update={"quarantine_floor": 5, "quarantine_multiple": 20.0})
    with TestClient(create_app(flooding), raise_server_exceptions=False) as client:
        yield client


def wait_for(condition, seconds: float = 5.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_a_flooding_hash_is_quarantined_and_lifted(
    flood_client: TestClient, keys: dict[str, str], engine: Engine
) -> None:
    moderation = Moderation(flood_client, keys)
    hook = flood_client.post(
        "/v1/webhooks",
        json={"url": "http://127.0.0.1:9/hook", "events": ["hash.quarantined"]},
        headers=moderation.admin,
    )
    assert hook.status_code == 201
    viral = random_pdq(5)
    moderation.bank("ncii")
    moderation.add("ncii", [viral])
    for n in range(5):
        assert moderation.match(viral, f"u{n}")["verdict"] == "block"
    moderation.flush()
    assert moderation.items() == []  # five is the floor, not over it
    moderation.match(viral, "u5")
    moderation.flush()
    # Every server hears of it through the change log; this one within a poll.
    wait_for(lambda: moderation.match(viral, "u6")["reason"] == "quarantined")
    assert moderation.match(viral, "u7")["verdict"] == "review"
    (item,) = [i for i in moderation.items() if i["kind"] == "quarantine"]
    assert item["reason"] == "quarantined" and item["bank"] == "ncii"
    sessions = make_session_factory(engine)
    with sessions() as session:
        events = list(session.scalars(select(WebhookDelivery.event_type)))
        actions = list(session.scalars(select(AuditRow.action)))
    assert events == ["hash.quarantined"]
    assert "hash.quarantine" in actions
    metrics = flood_client.get("/metrics").text
    assert "hashwall_hashes_quarantined_total 1.0" in metrics
    lifted = flood_client.post(
        f"/v1/reviews/{item['id']}/decision", json={"decision": "confirm"}, headers=moderation.admin
    )
    assert lifted.status_code == 200, lifted.text
    assert moderation.match(viral, "u8")["verdict"] == "block"
    # Lifted hashes are exempt: more floods do not quarantine them again.
    for n in range(20):
        moderation.match(viral, f"v{n}")
    moderation.flush()
    assert moderation.match(viral, "w")["verdict"] == "block"


def test_the_baseline_keeps_a_busy_hash_blocking(engine: Engine) -> None:
    sessions = make_session_factory(engine)
    now = utcnow()
    with sessions() as session, session.begin():
        # 100 an hour all last week: 150 in the last hour is no flood at 20x.
        for hours in range(2, 24 * 7):
            flood.add_counts(session, {1: 100}, now - timedelta(hours=hours))
        flood.add_counts(session, {1: 150, 2: 150}, now)
    with sessions() as session:
        found = flood.flooded(session, [1, 2], now, floor=50, multiple=20.0)
        rows = session.scalar(select(HashMatchCount.count).where(HashMatchCount.hash_id == 2))
    assert [f.hash_id for f in found] == [2]
    assert found[0].last_hour == 150 and found[0].baseline == 0
    assert rows == 150


def test_the_rule() -> None:
    assert not flood.is_flood(50, 0.0, 50, 20.0)
    assert flood.is_flood(51, 0.0, 50, 20.0)
    assert not flood.is_flood(100, 5.0, 50, 20.0)
    assert flood.is_flood(101, 5.0, 50, 20.0)
