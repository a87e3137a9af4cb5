"""Sending due deliveries: signed as Standard Webhooks asks, retried with backoff.

Signing uses the `standardwebhooks` package, the specification's own reference library,
rather than hand-rolled HMAC code: the signed string (`{id}.{timestamp}.{body}`) and the
secret's encoding are easy to get subtly wrong. Each attempt is signed afresh with its
own timestamp (receivers refuse old ones), under the same `webhook-id` every time, so a
receiver can drop repeats: delivery is at least once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from math import floor

import httpx
from sqlalchemy.orm import Session
from standardwebhooks.webhooks import Webhook as Signer

from app.models import utcnow
from app.webhooks import store
from app.webhooks.store import Due

log = logging.getLogger(__name__)

#: Deliveries taken per round.
BATCH = 50


def headers_for(due: Due, at: datetime) -> dict[str, str]:
    """The Standard Webhooks headers of one attempt."""
    return {
        "content-type": "application/json",
        "webhook-id": due.id,
        "webhook-timestamp": str(floor(at.timestamp())),
        "webhook-signature": Signer(due.secret).sign(due.id, at, due.body),
        "user-agent": "hashwall-webhooks",
    }


@dataclass(slots=True)
class Sent:
    """What one round did."""

    delivered: int = 0
    retrying: int = 0
    failed: int = 0


def attempt(client: httpx.Client, due: Due, at: datetime) -> str | None:
    """POST one delivery; None when the endpoint took it (2xx), else what went wrong."""
    try:
        response = client.post(due.url, content=due.body.encode(), headers=headers_for(due, at))
    except httpx.HTTPError as error:
        return f"{type(error).__name__}: {error}"
    if 200 <= response.status_code < 300:
        return None
    return f"HTTP {response.status_code}"


def send_due(
    sessions: Callable[[], Session],
    client: httpx.Client,
    now: Callable[[], datetime] = utcnow,
    lease: timedelta = store.SEND_LEASE,
) -> Sent:
    """Send every delivery due now, a batch at a time, until none is due. Each is held
    for `lease` while it is sent (longer than `client` may take over one attempt).

    A batch's outcomes are written in one transaction: a burst of events (a sweep finding
    a thousand uploads) is then bound by the endpoint, not by a commit per delivery.
    (Sending a batch from 8 threads through one client measured 8 times slower than
    one after another, 22 against 2.6 ms a delivery to a local endpoint.)"""
    sent = Sent()
    while True:
        with sessions() as session, session.begin():
            batch = store.claim_due(session, now(), BATCH, lease)
        if not batch:
            return sent
        outcomes = [attempt(client, due, now()) for due in batch]
        with sessions() as session, session.begin():
            for due, error in zip(batch, outcomes, strict=True):
                if error is None:
                    store.delivered(session, due, now())
                    sent.delivered += 1
                    continue
                state = store.failed_attempt(session, due, now(), error)
                if state == store.FAILED:
                    sent.failed += 1
                    log.warning("webhook delivery given up", extra={"webhook": due.webhook_id})
                else:
                    sent.retrying += 1
