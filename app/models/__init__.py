"""Tables, as SQLAlchemy 2 typed mappings. Migrations in `migrations/` create them.

Media is never stored: only hashes, their provenance, the verdicts given, and what
people decided about them. One module per part of the schema; import tables from here.
"""

from app.models.base import Base, BigId, UTCDateTime, utcnow
from app.models.ledger import LedgerEntry, LedgerForget, SweepHit, SweepState
from app.models.matching import (
    ApiKey,
    Bank,
    Feed,
    FeedFeedback,
    HashChange,
    HashPartRecord,
    HashRecord,
    VerdictLogEntry,
    VideoFrameRecord,
)
from app.models.moderation import (
    AuditRow,
    HashMatchCount,
    PeerFeedback,
    Quarantine,
    ReviewDecision,
    ReviewItem,
    Webhook,
    WebhookDelivery,
    WorkerLease,
)

__all__ = [
    "ApiKey",
    "AuditRow",
    "Bank",
    "Base",
    "BigId",
    "Feed",
    "FeedFeedback",
    "HashChange",
    "HashMatchCount",
    "HashPartRecord",
    "HashRecord",
    "LedgerEntry",
    "LedgerForget",
    "PeerFeedback",
    "Quarantine",
    "ReviewDecision",
    "ReviewItem",
    "SweepHit",
    "SweepState",
    "UTCDateTime",
    "VerdictLogEntry",
    "VideoFrameRecord",
    "Webhook",
    "WebhookDelivery",
    "WorkerLease",
    "utcnow",
]
