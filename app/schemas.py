"""Pydantic models of the HTTP contract: what clients send and what they get back."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from app.store.banks import BANK_NAME

ActionName = Literal["block", "review", "allow"]


class StrictModel(BaseModel):
    """Refuses unknown fields, so a typo in a field name is an error, not a silent no-op."""

    model_config = ConfigDict(extra="forbid")


# --- matching ---------------------------------------------------------------------------


class MatchItem(StrictModel):
    signal_type: str = Field(examples=["pdq"])
    value: str = Field(description="The hash in its text form (lowercase or uppercase hex).")
    content_id: str | None = Field(default=None, max_length=200)
    quality: int | None = Field(
        default=None, ge=0, le=100, description="pdq quality, when the client computed it."
    )


class MatchRequest(StrictModel):
    items: list[MatchItem] = Field(min_length=1)


class VideoMatchDetail(BaseModel):
    """How much of a video matched a banked video (vpdq)."""

    query_share: float = Field(description="Percent of the query's frames that matched.")
    target_share: float = Field(description="Percent of the banked video's frames matched.")
    matched_frames: int = Field(description="Frames of the banked video that matched.")
    query_ranges: list[tuple[float, float]] = Field(
        description="Where the query matches: [start, end] in seconds of the query."
    )
    target_ranges: list[tuple[float, float]] = Field(
        description="What of the banked video it matches: [start, end] in its seconds."
    )


class MatchDetail(BaseModel):
    """Shown only to keys with the `match:details` scope."""

    bank: str
    signal_type: str
    distance: int
    action: ActionName
    reason: str
    hash_id: int
    external_id: str | None = None
    variant: str | None = Field(
        default=None,
        description="For media: the candidate of the upload that matched (`mirrored`, "
        "`trimmed:original`, ...); absent when the upload's own hash did.",
    )
    part: str | None = Field(
        default=None,
        description="For an image banked from media: the part of it that matched (a crop "
        "`crop90:2.5`, a caption band `band:top:white`, `cut:top`, a small rotation "
        "`rotated:+3`); absent when its own hash did.",
    )
    video: VideoMatchDetail | None = None


class MatchResult(BaseModel):
    verdict: ActionName
    reason: str = Field(
        description="no_match, matched, near_match, low_quality, unconfirmed_source, "
        "allowlisted or degenerate_hash"
    )
    content_id: str | None = None
    matches: list[MatchDetail] = Field(default_factory=list)


class MatchResponse(BaseModel):
    results: list[MatchResult]


class ComputedHash(BaseModel):
    signal_type: str
    value: str
    quality: int | None = None
    parts: int | None = Field(
        default=None,
        description="Images banked from media: how many parts (crops, caption bands, small "
        "rotations) were stored with the pdq hash.",
    )


class MediaMatchResult(MatchResult):
    filename: str | None = None
    candidate: str | None = Field(
        default=None,
        description="Which candidate of the file decided a match: `original` (its own "
        "hashes), a dihedral orientation (`mirrored`, `rotated_90_cw`, ...), or a view of "
        "it (`trimmed:...`, `inner:...`, `uncaptioned:...`).",
    )
    hashes: list[ComputedHash]


class MediaMatchResponse(BaseModel):
    results: list[MediaMatchResult]


# --- banks ------------------------------------------------------------------------------


class ThresholdsModel(StrictModel):
    match: int = Field(ge=0, description="At or under this distance the bank's action applies.")
    review: int = Field(
        ge=0, description="At or under this distance the verdict is at most review."
    )
    query_share: float | None = Field(
        default=None,
        ge=0,
        le=100,
        description="vpdq only: percent of a query video's frames that must match.",
    )
    target_share: float | None = Field(
        default=None,
        ge=0,
        le=100,
        description="vpdq only: or percent of the banked video's frames that must match.",
    )


class BankCreate(StrictModel):
    name: str = Field(pattern=BANK_NAME)
    action: ActionName
    enabled: bool = True
    thresholds: dict[str, ThresholdsModel] = Field(default_factory=dict)
    description: str = Field(default="", max_length=1000)
    queue_blocks: bool = Field(
        default=False, description="Queue this bank's blocks for review after the fact too."
    )


class BankUpdate(StrictModel):
    action: ActionName | None = None
    enabled: bool | None = None
    thresholds: dict[str, ThresholdsModel] | None = None
    description: str | None = Field(default=None, max_length=1000)
    queue_blocks: bool | None = None


class BankPublic(BaseModel):
    name: str
    action: ActionName
    enabled: bool
    thresholds: dict[str, ThresholdsModel]
    description: str
    queue_blocks: bool = Field(description="Whether blocks are queued for review too.")
    hash_count: int = Field(description="Active hashes in the bank.")
    created_at: datetime
    updated_at: datetime


class BankList(BaseModel):
    banks: list[BankPublic]


class HashItem(StrictModel):
    signal_type: str
    value: str
    quality: int | None = Field(default=None, ge=0, le=100)
    external_id: str | None = Field(default=None, max_length=200)
    case_ref: str | None = Field(default=None, max_length=200)


class HashBatch(StrictModel):
    items: list[HashItem] = Field(min_length=1)
    source: str = Field(default="api", max_length=100)


class HashBatchResult(BaseModel):
    added: int
    reactivated: int = Field(description="Withdrawn or deleted hashes made active again.")
    updated: int = Field(description="Active hashes whose quality or provenance changed.")
    unchanged: int


class HashKey(StrictModel):
    signal_type: str
    value: str


class HashDecision(StrictModel):
    decision: Literal["confirm", "dismiss"] = Field(
        description="confirm: the hashes may block (and feeds hear Blocked); dismiss: the "
        "match was not what the hash reports (feeds hear NotBlocked)."
    )
    items: list[HashKey] = Field(min_length=1)


class HashDecisionResult(BaseModel):
    found: int
    confirmed: int = Field(description="Hashes that were unconfirmed and now may block.")
    feedback: int = Field(description="Feedback records queued for the feeds they came from.")
    not_found: list[HashKey]


class HashRemoved(BaseModel):
    id: int
    signal_type: str
    value: str
    status: str


class BankMediaFile(BaseModel):
    filename: str | None
    hashes: list[ComputedHash]
    skipped: list[ComputedHash] = Field(
        default_factory=list, description="Degenerate hashes that were not added."
    )


class BankMediaResult(HashBatchResult):
    files: list[BankMediaFile]


class FeedPublic(BaseModel):
    name: str
    kind: str
    url: str
    bank: str | None
    enabled: bool
    trust: Literal["confirmed", "unconfirmed"]
    interval_seconds: int
    checkpoint: dict[str, Any] | None
    records: int
    added: int
    removed: int
    rejected: int
    feedback_pending: int
    feedback_sent: int
    last_success_at: datetime | None
    last_error: str | None
    last_error_at: datetime | None


class FeedList(BaseModel):
    feeds: list[FeedPublic]


# --- health -----------------------------------------------------------------------------


class Health(BaseModel):
    status: Literal["ok", "unavailable"]
    checks: dict[str, str] = Field(default_factory=dict)
