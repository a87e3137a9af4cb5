"""Webhooks and their outbox of deliveries. The caller owns the transaction.

`enqueue` writes one delivery per subscribed webhook in the transaction of the change it
tells of (the transactional outbox): if the change commits, the event will be sent; if
it rolls back, nothing is. A worker sends due deliveries (`claim_due`, `delivered`,
`failed_attempt`), several workers at once without sending one twice at the same time.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import case, func, select, update
from sqlalchemy.orm import Session

from app.errors import InvalidInput, NotFound
from app.models import Webhook, WebhookDelivery, utcnow
from app.store import on_postgresql

#: Events a webhook can subscribe to.
EVENTS = frozenset({"review.decided", "hash.quarantined", "sweep.matched"})
PENDING, DELIVERED, FAILED = "pending", "delivered", "failed"
#: A worker holds a delivery this long while it sends it, by default: longer than an
#: attempt can take (`lease_for`), so that no other worker sends it meanwhile, and short,
#: so that a delivery a killed worker held is sent again soon.
SEND_LEASE = timedelta(seconds=60)
#: Retries go on this long after the event, then the delivery is marked failed.
RETRY_WINDOW = timedelta(hours=24)
#: The first retry waits this long; each further one twice as long, up to RETRY_CAP.
FIRST_RETRY = timedelta(seconds=5)
RETRY_CAP = timedelta(hours=2)


def new_secret() -> str:
    """`whsec_` and base64 of 32 random bytes, as Standard Webhooks writes secrets."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def create(session: Session, url: str, events: Sequence[str], description: str) -> Webhook:
    """A new webhook with a new secret (the caller shows it once)."""
    unknown = sorted(set(events) - EVENTS)
    if unknown or not events:
        raise InvalidInput(
            f"unknown events {unknown}; known: {sorted(EVENTS)}" if unknown else "no events",
            [{"pointer": "/events", "detail": "unknown or missing events"}],
        )
    hook = Webhook(
        id="wh_" + uuid.uuid4().hex,
        url=url,
        events=sorted(set(events)),
        description=description,
        secret=new_secret(),
    )
    session.add(hook)
    session.flush()
    return hook


def get(session: Session, webhook_id: str) -> Webhook:
    """One webhook, or raise `NotFound`."""
    hook = session.get(Webhook, webhook_id)
    if hook is None:
        raise NotFound(f"no webhook {webhook_id!r}")
    return hook


def delete(session: Session, webhook_id: str) -> Webhook:
    """Remove a webhook and its undelivered events."""
    hook = get(session, webhook_id)
    session.delete(hook)
    session.flush()
    return hook


def list_all(session: Session) -> list[Webhook]:
    """Every webhook, oldest first."""
    return list(session.scalars(select(Webhook).order_by(Webhook.created_at, Webhook.id)))


def pending_counts(session: Session) -> dict[str, int]:
    """Deliveries not yet made, per webhook id."""
    rows = session.execute(
        select(
            WebhookDelivery.webhook_id,
            func.sum(case((WebhookDelivery.state == PENDING, 1), else_=0)),
        ).group_by(WebhookDelivery.webhook_id)
    )
    return {hook_id: int(count or 0) for hook_id, count in rows}


def body_of(event_type: str, data: dict[str, Any], at: datetime) -> str:
    """The JSON body of an event, as Standard Webhooks shapes it."""
    return json.dumps(
        {"type": event_type, "timestamp": at.isoformat(), "data": data}, separators=(",", ":")
    )


def message_id(webhook_id: str, key: str | None) -> str:
    """A delivery's id (the `webhook-id` header): derived from the event's own `key`
    when it has one, so that an event produced again (a sweep redone after a crash) is
    the same message; else random."""
    if key is None:
        return "msg_" + uuid.uuid4().hex
    return "msg_" + hashlib.sha256(f"{webhook_id}|{key}".encode()).hexdigest()[:32]


def enqueue(session: Session, event_type: str, data: dict[str, Any], key: str | None = None) -> int:
    """Queue an event for every enabled webhook subscribed to it; return how many.
    `key` names the event for good (see `message_id`)."""
    return enqueue_all(session, event_type, [(data, key)])


def enqueue_all(
    session: Session, event_type: str, events: Sequence[tuple[dict[str, Any], str | None]]
) -> int:
    """Queue events of one type, each (data, key) as `enqueue` takes it, reading the
    subscribed webhooks once (a sweep may tell of a thousand uploads in one commit);
    return how many deliveries were queued."""
    if event_type not in EVENTS:
        raise ValueError(f"unknown event {event_type!r}")
    if not events:
        return 0
    now = utcnow()
    hooks = [
        h
        for h in session.scalars(select(Webhook).where(Webhook.enabled.is_(True)))
        if event_type in h.events
    ]
    for data, key in events:
        body = body_of(event_type, data, now)
        for hook in hooks:
            session.add(
                WebhookDelivery(
                    id=message_id(hook.id, key),
                    webhook_id=hook.id,
                    event_type=event_type,
                    body=body,
                    state=PENDING,
                    created_at=now,
                    next_attempt_at=now,
                )
            )
    session.flush()
    return len(hooks) * len(events)


@dataclass(frozen=True, slots=True)
class Due:
    """A delivery a worker now holds: what to send, where, signed with what."""

    id: str
    webhook_id: str
    url: str
    secret: str
    body: str
    attempts: int
    created_at: datetime


def lease_for(timeout: float) -> timedelta:
    """The lease on a delivery for attempts that time out after `timeout` seconds."""
    return timedelta(seconds=2 * timeout + 1)


def claim_due(
    session: Session, now: datetime, limit: int, lease: timedelta = SEND_LEASE
) -> list[Due]:
    """Take the lease on up to `limit` due deliveries; commit before sending them.

    On PostgreSQL the rows are picked with `FOR UPDATE SKIP LOCKED`, so workers polling
    at once take different ones; on both, the lease is set only where no live lease is."""
    query = (
        select(WebhookDelivery.id)
        .where(
            WebhookDelivery.state == PENDING,
            WebhookDelivery.next_attempt_at <= now,
            (WebhookDelivery.lease_until.is_(None)) | (WebhookDelivery.lease_until <= now),
        )
        .order_by(WebhookDelivery.next_attempt_at)
        .limit(limit)
    )
    if on_postgresql(session):
        query = query.with_for_update(skip_locked=True)
    taken = []
    for delivery_id in session.scalars(query).all():
        result = session.execute(
            update(WebhookDelivery)
            .where(
                WebhookDelivery.id == delivery_id,
                (WebhookDelivery.lease_until.is_(None)) | (WebhookDelivery.lease_until <= now),
            )
            .values(lease_until=now + lease)
            .execution_options(synchronize_session=False)
        )
        if result.rowcount:  # type: ignore[attr-defined]
            taken.append(delivery_id)
    if not taken:
        return []
    rows = session.execute(
        select(
            WebhookDelivery.id,
            WebhookDelivery.webhook_id,
            Webhook.url,
            Webhook.secret,
            WebhookDelivery.body,
            WebhookDelivery.attempts,
            WebhookDelivery.created_at,
        )
        .join(Webhook, Webhook.id == WebhookDelivery.webhook_id)
        .where(WebhookDelivery.id.in_(taken))
    )
    return [Due(*row) for row in rows]


def retry_delay(attempts: int) -> timedelta:
    """How long to wait after the `attempts`-th failed attempt."""
    return min(FIRST_RETRY * 2 ** max(attempts - 1, 0), RETRY_CAP)


def delivered(session: Session, due: Due, now: datetime) -> None:
    """The endpoint took the delivery (2xx)."""
    session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.id == due.id)
        .values(state=DELIVERED, delivered_at=now, attempts=due.attempts + 1, lease_until=None)
    )
    session.execute(update(Webhook).where(Webhook.id == due.webhook_id).values(last_success_at=now))


def failed_attempt(session: Session, due: Due, now: datetime, error: str) -> str:
    """An attempt failed: schedule the next one, or give up past the retry window.
    Returns the delivery's new state."""
    attempts = due.attempts + 1
    next_at = now + retry_delay(attempts)
    state = FAILED if next_at > due.created_at + RETRY_WINDOW else PENDING
    session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.id == due.id)
        .values(
            state=state,
            attempts=attempts,
            next_attempt_at=next_at,
            lease_until=None,
            last_error=error[:1000],
        )
    )
    session.execute(
        update(Webhook)
        .where(Webhook.id == due.webhook_id)
        .values(last_error=error[:1000], last_error_at=now)
    )
    return state


def public(hook: Webhook, pending: int) -> dict[str, Any]:
    """A webhook as the API lists it: never its secret."""
    return {
        "id": hook.id,
        "url": hook.url,
        "events": hook.events,
        "description": hook.description,
        "enabled": hook.enabled,
        "created_at": hook.created_at.isoformat(),
        "last_success_at": hook.last_success_at.isoformat() if hook.last_success_at else None,
        "last_error": hook.last_error,
        "last_error_at": hook.last_error_at.isoformat() if hook.last_error_at else None,
        "pending": pending,
    }
