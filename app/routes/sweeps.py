"""What the takedown sweep found, under /v1/sweeps (review): hits newest first."""

from __future__ import annotations

from fastapi import APIRouter, Query

from app.deps import ReviewKey, SessionDep
from app.ledger import hits
from app.ledger.schemas import SweepMatch, SweepPage
from app.routes.reviews import cursor_of

router = APIRouter(prefix="/v1/sweeps", tags=["ledger"])


@router.get("", response_model=SweepPage)
def list_sweeps(
    session: SessionDep,
    _: ReviewKey,
    cursor: str | None = Query(default=None, max_length=32),
    limit: int = Query(default=100, ge=1, le=1000),
) -> SweepPage:
    """Recorded uploads the sweep found matching hashes that arrived after them."""
    rows, before = hits.page(session, cursor_of(cursor), limit)
    return SweepPage(
        items=[
            SweepMatch(
                id=r.id,
                content_id=r.content_id,
                bank=r.bank,
                hash_id=r.hash_id,
                signal_type=r.signal_type,
                distance=r.distance,
                candidate=r.candidate,
                verdict=r.verdict,
                reason=r.reason,
                recorded_at=r.recorded_at,
                found_at=r.found_at,
                event_id=r.event,
            )
            for r in rows
        ],
        next=str(before) if before is not None else None,
    )
