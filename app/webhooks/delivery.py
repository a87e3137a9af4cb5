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
from concurrent.futures import ThreadPoolExecutor
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
#: Deliveries of a batch in flight at once.
SENDERS = 8


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

    A batch's deliveries are sent SENDERS at a time, so that a burst of events (a sweep
    finding a thousand uploads) goes out at the speed of the endpoints, not one round
    trip after another, and one slow endpoint does not hold up the others; their
    outcomes are written in one transaction."""
    sent = Sent()
    with ThreadPoolExecutor(SENDERS, thread_name_prefix="webhook") as pool:
        while True:
            with sessions() as session, session.begin():
                batch = store.claim_due(session, now(), BATCH, lease)
            if not batch:
                return sent
            outcomes = list(pool.map(lambda due: attempt(client, due, now()), batch))
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
