"""Retention: the verdict log and decided review items are kept for a number of days,
then purged; match counts a little over the quarantine baseline's week; sent webhook
deliveries for as long as the verdict log; the content ledger for `HASHWALL_LEDGER_DAYS`
(everything, once it is off). The audit trail is kept for good.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.orm import Session

from app.models import HashMatchCount, ReviewItem, VerdictLogEntry, WebhookDelivery
from app.review.flood import BASELINE, WINDOW


@dataclass(frozen=True, slots=True)
class Purged:
    """Rows purged, per table."""

    verdicts: int
    reviews: int
    counts: int
    deliveries: int
    #: Content ledger rows (`app.ledger`), purged by the worker after `purge`.
    ledger: int = 0


def purge(session: Session, now: datetime, verdict_days: int, review_days: int) -> Purged:
    """Delete what is past its retention."""

    def gone(statement: object) -> int:
        return int(session.execute(statement).rowcount or 0)  # type: ignore[call-overload,attr-defined]

    verdict_cutoff = now - timedelta(days=verdict_days)
    return Purged(
        verdicts=gone(delete(VerdictLogEntry).where(VerdictLogEntry.created_at < verdict_cutoff)),
        reviews=gone(
            delete(ReviewItem).where(
                ReviewItem.status == "decided",
                ReviewItem.decided_at < now - timedelta(days=review_days),
            )
        ),
        counts=gone(
            delete(HashMatchCount).where(
                HashMatchCount.bucket < now - BASELINE - WINDOW - timedelta(hours=1)
            )
        ),
        deliveries=gone(
            delete(WebhookDelivery).where(
                WebhookDelivery.state != "pending", WebhookDelivery.created_at < verdict_cutoff
            )
        ),
    )
