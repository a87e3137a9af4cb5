"""The audit trail under /v1/audit (admin): filtered, newest first, a cursor a page."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Query

from app.audit import store
from app.deps import AdminKey, SessionDep
from app.review.schemas import AuditPage
from app.routes.reviews import cursor_of

router = APIRouter(prefix="/v1/audit", tags=["audit"])


@router.get("", response_model=AuditPage)
def list_audit(
    session: SessionDep,
    _: AdminKey,
    actor: str | None = Query(default=None, max_length=120),
    action: str | None = Query(default=None, max_length=64),
    target: str | None = Query(default=None, max_length=300),
    since: datetime | None = Query(default=None, description="ISO 8601, inclusive"),
    until: datetime | None = Query(default=None, description="ISO 8601, exclusive"),
    cursor: str | None = Query(default=None, max_length=32),
    limit: int = Query(default=100, ge=1, le=1000),
) -> AuditPage:
    """Audit rows that match every filter given."""
    filters = store.Filters(actor, action, target, since, until)
    rows, before = store.page(session, filters, cursor_of(cursor), limit)
    return AuditPage(
        items=[store.public(r) for r in rows], next=str(before) if before is not None else None
    )
