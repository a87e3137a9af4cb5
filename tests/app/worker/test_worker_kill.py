"""A `hashwall worker` process killed while it sends a webhook: another worker sends the
delivery again, under the same webhook-id, once the killed one's lease runs out."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
from sqlalchemy import Engine, select

from app.db import make_session_factory
from app.models import WebhookDelivery
from app.webhooks import store as webhooks
from tests.webhookserver import webhook_receiver

pytestmark = pytest.mark.slow


def start_worker(database_url: str) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "HASHWALL_DATABASE_URL": database_url,
        "HASHWALL_WEBHOOK_TIMEOUT": "1",  # a lease of 3 s
    }
    return subprocess.Popen(
        [sys.executable, "-m", "app.cli", "worker", "--tick", "0.1"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def wait_for(condition, seconds: float) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_a_killed_worker_loses_no_delivery(engine: Engine, database_url: str) -> None:
    sessions = make_session_factory(engine)
    with webhook_receiver() as receiver:
        receiver.stalls = [30.0]  # the first attempt hangs until the worker dies
        with sessions() as session, session.begin():
            webhooks.create(session, receiver.url, ["review.decided"], "")
            webhooks.enqueue(session, "review.decided", {"item_id": 9})
        first = start_worker(database_url)
        try:
            wait_for(lambda: len(receiver.received) == 1, 30)
            first.send_signal(signal.SIGKILL)
            first.wait(timeout=10)
        finally:
            first.kill()
        second = start_worker(database_url)
        try:
            wait_for(lambda: len(receiver.received) == 2, 30)

            def delivered() -> bool:
                with sessions() as session:
                    return session.scalar(select(WebhookDelivery.state)) == "delivered"

            wait_for(delivered, 10)
        finally:
            second.send_signal(signal.SIGTERM)
            second.wait(timeout=20)
        ids = [r.headers["webhook-id"] for r in receiver.received]
        assert ids[0] == ids[1]
        assert receiver.received[0].body == receiver.received[1].body
