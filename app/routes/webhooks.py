"""Webhooks under /v1/webhooks (admin): create (the secret shown once), list, delete."""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from app.audit import store as audit
from app.deps import AdminKey, SessionDep
from app.review.schemas import WebhookCreate, WebhookCreated, WebhookList
from app.webhooks import store

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"])


@router.post("", response_model=WebhookCreated, status_code=status.HTTP_201_CREATED)
def create_webhook(body: WebhookCreate, session: SessionDep, principal: AdminKey) -> WebhookCreated:
    """Subscribe a URL to events; answers the signing secret, which is never shown again."""
    with session.begin():
        hook = store.create(session, body.url, body.events, body.description)
        audit.append(
            session,
            audit.key_actor(principal.name),
            "webhook.create",
            f"webhook:{hook.id}",
            {"url": hook.url, "events": hook.events, "description": hook.description},
        )
    return WebhookCreated(id=hook.id, secret=hook.secret)


@router.get("", response_model=WebhookList)
def list_webhooks(session: SessionDep, _: AdminKey) -> WebhookList:
    """Every webhook with its delivery state: last success, last error, pending count."""
    pending = store.pending_counts(session)
    return WebhookList(
        webhooks=[store.public(h, pending.get(h.id, 0)) for h in store.list_all(session)]
    )


@router.delete("/{webhook_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_webhook(webhook_id: str, session: SessionDep, principal: AdminKey) -> Response:
    """Remove a webhook; its undelivered events are dropped."""
    with session.begin():
        hook = store.delete(session, webhook_id)
        audit.append(
            session,
            audit.key_actor(principal.name),
            "webhook.delete",
            f"webhook:{hook.id}",
            {"url": hook.url},
        )
    return Response(status_code=status.HTTP_204_NO_CONTENT)
