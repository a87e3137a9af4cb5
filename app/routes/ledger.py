"""The content ledger under /v1/ledger: whether a content id is recorded (admin), and
forgetting one (banks:write), which platforms call when they delete content."""

from __future__ import annotations

from fastapi import APIRouter

from app.audit import store as audit
from app.deps import AdminKey, BanksWriteKey, SessionDep
from app.ledger import store
from app.ledger.record import checked_content_id
from app.ledger.schemas import LedgerForgotten, LedgerStatus
from app.models import utcnow

router = APIRouter(prefix="/v1/ledger", tags=["ledger"])


@router.get("/{content_id:path}", response_model=LedgerStatus, response_model_exclude_none=True)
def ledger_status(content_id: str, session: SessionDep, _: AdminKey) -> LedgerStatus:
    """Whether the ledger holds a content id, since when, and how many hashes of each
    type; never the hashes themselves."""
    recorded = store.describe(session, checked_content_id(content_id))
    if recorded is None:
        return LedgerStatus(content_id=content_id, recorded=False)
    return LedgerStatus(
        content_id=content_id,
        recorded=True,
        first_recorded_at=recorded.first_recorded_at,
        last_recorded_at=recorded.last_recorded_at,
        hashes=recorded.hashes,
    )


@router.delete("/{content_id:path}", response_model=LedgerForgotten)
def forget_content(
    content_id: str, session: SessionDep, principal: BanksWriteKey
) -> LedgerForgotten:
    """Forget a content id at once: every recorded hash of it is deleted, so no sweep
    finds it again. Idempotent."""
    checked_content_id(content_id)
    with session.begin():
        # Rows of it still queued in some server's recorder are dropped when they arrive.
        forgotten = store.forget(session, content_id, utcnow())
        audit.append(
            session,
            audit.key_actor(principal.name),
            "ledger.forget",
            f"content:{content_id}",
            {"hashes": forgotten},
        )
    return LedgerForgotten(content_id=content_id, forgotten=forgotten)
