"""Hash-sharing feeds and their sync state, under /v1/feeds (read-only: the worker and
the CLI change them)."""

from __future__ import annotations

from fastapi import APIRouter

from app.deps import BanksReadKey, SessionDep
from app.schemas import FeedList, FeedPublic
from app.store import feeds as feed_store

router = APIRouter(prefix="/v1/feeds", tags=["feeds"])


@router.get("", response_model=FeedList)
def list_feeds(session: SessionDep, _: BanksReadKey) -> FeedList:
    """Every feed: target bank, trust, checkpoint, counts, last success and last error."""
    return FeedList(
        feeds=[FeedPublic.model_validate(row) for row in feed_store.feed_states(session)]
    )
