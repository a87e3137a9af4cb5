"""Webhooks through HTTP and the worker, on SQLite and PostgreSQL: the outbox, Standard
Webhooks signatures checked by an independent verifier, retries with the same id."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import datetime, timedelta

import httpx
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from standardwebhooks.webhooks import Webhook as Verifier

from app.db import make_session_factory
from app.models import WebhookDelivery, utcnow
from app.webhooks import store
from app.webhooks.delivery import send_due
from tests.app.conftest import Moderation
from tests.webhookserver import Received, webhook_receiver


def by_hand(secret: str, received: Received) -> bool:
    """The signature as the specification defines it, computed without the library."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = (
        f"{received.headers['webhook-id']}.{received.headers['webhook-timestamp']}.".encode()
        + received.body
    )
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    return f"v1,{expected}" in received.headers["webhook-signature"].split(" ")


def test_create_list_delete(moderation: Moderation, client: TestClient) -> None:
    admin = moderation.admin
    created = client.post(
        "/v1/webhooks",
        json={"url": "https://platform.example/hooks", "events": ["review.decided"]},
        headers=admin,
    )
    assert created.status_code == 201
    secret = created.json()["secret"]
    assert secret.startswith("whsec_") and len(base64.b64decode(secret[6:])) == 32
    listed = client.get("/v1/webhooks", headers=admin).json()["webhooks"]
    assert [h["id"] for h in listed] == [created.json()["id"]]
    assert "secret" not in listed[0] and listed[0]["pending"] == 0
    reviewer = {"Authorization": f"Bearer {moderation.keys['review']}"}
    assert client.get("/v1/webhooks", headers=reviewer).status_code == 403
    bad = [
        client.post(
            "/v1/webhooks", json={"url": "ftp://x", "events": ["review.decided"]}, headers=admin
        ),
        client.post(
            "/v1/webhooks", json={"url": "https://x.example", "events": ["nope"]}, headers=admin
        ),
        client.post("/v1/webhooks", json={"url": "https://x.example", "events": []}, headers=admin),
    ]
    assert [b.status_code for b in bad] == [422, 422, 422]
    assert client.delete(f"/v1/webhooks/{created.json()['id']}", headers=admin).status_code == 204
    assert client.delete(f"/v1/webhooks/{created.json()['id']}", headers=admin).status_code == 404


def test_a_decision_is_delivered_signed(
    moderation: Moderation, client: TestClient, engine: Engine
) -> None:
    sessions = make_session_factory(engine)
    with webhook_receiver() as receiver:
        hook = client.post(
            "/v1/webhooks",
            json={"url": receiver.url, "events": ["review.decided"], "description": "trust&safety"},
            headers=moderation.admin,
        ).json()
        item = moderation.review_item()
        decided = client.post(
            f"/v1/reviews/{item['id']}/decision",
            json={"decision": "confirm"},
            headers=moderation.admin,
        )
        assert decided.status_code == 200
        assert (
            client.get("/v1/webhooks", headers=moderation.admin).json()["webhooks"][0]["pending"]
            == 1
        )
        receiver.statuses = [503]  # the first attempt fails
        with httpx.Client(timeout=5) as http:
            first = send_due(sessions, http)
            assert (first.delivered, first.retrying) == (0, 1)
            # Not due again until the backoff has passed.
            assert send_due(sessions, http).delivered == 0
            later = send_due(sessions, http, now=lambda: utcnow() + timedelta(seconds=6))
            assert later.delivered == 1
        assert len(receiver.received) == 2
        failed, delivered = receiver.received
        assert failed.headers["webhook-id"] == delivered.headers["webhook-id"]
        assert failed.body == delivered.body
        for received in receiver.received:
            assert by_hand(hook["secret"], received)
        # The reference verifier (which also checks the timestamp is fresh).
        payload = Verifier(hook["secret"]).verify(delivered.body, delivered.headers)
        assert payload["type"] == "review.decided"
        assert datetime.fromisoformat(payload["timestamp"]).tzinfo is not None
        data = payload["data"]
        assert data["item_id"] == item["id"] and data["content_id"] == "upload-1"
        assert data["decision"] == "confirm" and data["verdict"] == "block"
        assert data["banks"] == ["ncii"]
        state = client.get("/v1/webhooks", headers=moderation.admin).json()["webhooks"][0]
        assert state["pending"] == 0
        assert state["last_success_at"] is not None and state["last_error"] == "HTTP 503"
        # A tampered body fails both verifiers.
        forged = Received(delivered.headers, delivered.body.replace(b"confirm", b"dismiss"))
        assert not by_hand(hook["secret"], forged)


def test_a_rolled_back_change_sends_nothing(engine: Engine) -> None:
    sessions = make_session_factory(engine)
    with sessions() as session, session.begin():
        store.create(session, "https://x.example/h", ["review.decided"], "")
    with sessions() as session:
        transaction = session.begin()
        assert store.enqueue(session, "review.decided", {"item_id": 1}) == 1
        transaction.rollback()
    with sessions() as session:
        assert session.scalars(select(WebhookDelivery)).all() == []


def test_a_worker_killed_mid_send_loses_nothing(engine: Engine) -> None:
    """A worker that took a delivery and died before recording the result: once its
    lease runs out another sends it, under the same id."""
    sessions = make_session_factory(engine)
    with webhook_receiver() as receiver:
        with sessions() as session, session.begin():
            store.create(session, receiver.url, ["hash.quarantined"], "")
            store.enqueue(session, "hash.quarantined", {"hash_id": 7})
        with sessions() as session, session.begin():
            (taken,) = store.claim_due(session, utcnow(), 10)
        # ... the worker dies here. Another finds nothing while the lease runs:
        with httpx.Client(timeout=5) as http:
            assert send_due(sessions, http).delivered == 0
            after = lambda: utcnow() + store.SEND_LEASE + timedelta(seconds=1)  # noqa: E731
            assert send_due(sessions, http, now=after).delivered == 1
        assert [r.headers["webhook-id"] for r in receiver.received] == [taken.id]
        assert json.loads(receiver.received[0].body)["data"] == {"hash_id": 7}


def test_retries_stop_after_a_day(engine: Engine) -> None:
    sessions = make_session_factory(engine)
    with sessions() as session, session.begin():
        store.create(session, "http://127.0.0.1:9/closed", ["review.decided"], "")
        store.enqueue(session, "review.decided", {"item_id": 1})
    clock = utcnow()
    attempts = 0
    with httpx.Client(timeout=1) as http:
        while True:
            sent = send_due(sessions, http, now=lambda at=clock: at)
            attempts += sent.retrying + sent.failed
            if sent.failed:
                break
            clock += store.RETRY_CAP
            assert attempts < 40
    assert store.retry_delay(1) == timedelta(seconds=5)
    assert store.retry_delay(2) == timedelta(seconds=10)
    with sessions() as session:
        (delivery,) = session.scalars(select(WebhookDelivery))
        assert delivery.state == "failed" and delivery.attempts == attempts
        assert delivery.last_error and "ConnectError" in delivery.last_error
