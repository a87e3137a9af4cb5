"""Request and response bodies of `/v1/reviews`, `/v1/webhooks` and `/v1/audit`."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from app.schemas import BANK_NAME, StrictModel


class ReviewDecisionBody(StrictModel):
    decision: Literal["confirm", "dismiss", "escalate"] = Field(
        description="confirm: NCII, the verdict becomes block; dismiss: a false positive, "
        "allow; escalate: to the second tier (review:escalated)."
    )
    note: str | None = Field(default=None, max_length=2000)
    add_to_bank: str | None = Field(
        default=None,
        pattern=BANK_NAME,
        description="Add the upload's hashes to this bank: a block or review bank on "
        "confirm, an allow bank on dismiss.",
    )


class ReviewPage(BaseModel):
    items: list[dict[str, Any]]
    next: str | None = Field(description="The cursor of the next page, or null.")


class ClaimResult(BaseModel):
    id: int
    claimed_by: str
    lease_until: str


class WebhookCreate(StrictModel):
    url: str = Field(pattern=r"^https?://[^\s]+$", max_length=2000)
    events: list[str] = Field(min_length=1, max_length=10)
    description: str = Field(default="", max_length=500)


class WebhookCreated(BaseModel):
    id: str
    secret: str = Field(description="`whsec_...`: shown once; verify signatures with it.")


class WebhookList(BaseModel):
    webhooks: list[dict[str, Any]]


class AuditPage(BaseModel):
    items: list[dict[str, Any]]
    next: str | None = Field(description="The cursor of the next page, or null.")
