"""Request and response models of the ledger and sweep routes."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


class LedgerStatus(BaseModel):
    """Whether a content id is in the ledger, and when it was recorded; never a hash."""

    content_id: str
    recorded: bool
    first_recorded_at: datetime | None = None
    last_recorded_at: datetime | None = None
    hashes: dict[str, int] = Field(
        default_factory=dict, description="Recorded hashes per signal type (counts only)."
    )


class LedgerForgotten(BaseModel):
    """What forgetting a content id removed."""

    content_id: str
    forgotten: int = Field(description="Recorded hashes deleted (0: none were held).")


class SweepMatch(BaseModel):
    """One banked hash the sweep found in one recorded upload."""

    id: int
    content_id: str
    bank: str
    hash_id: int
    signal_type: str
    distance: int
    candidate: str = Field(description="The upload's candidate that matched; `original`.")
    verdict: str
    reason: str
    recorded_at: datetime
    found_at: datetime
    event_id: str = Field(description="The `sweep.matched` event that told of it.")


class SweepPage(BaseModel):
    """Sweep hits, newest first, and the cursor of the next page (null: no more)."""

    items: list[SweepMatch]
    next: str | None = None
