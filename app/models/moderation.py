"""What turns a verdict into a decision: the review queue, flood quarantine, webhooks
with their outbox, the audit trail, and the leases background workers share work by.

None of it holds media: a review item keeps the upload's own hashes only while it is
open, so that a decision can bank them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    text,
    true,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, BigId, UTCDateTime, utcnow

#: Open (undecided) items: one per content id, so that sightings merge.
OPEN_ITEM = text("status != 'decided'")


class ReviewItem(Base):
    """One piece of content (or one flooded hash) waiting for a moderator."""

    __tablename__ = "review_items"
    __table_args__ = (
        Index(
            "uq_review_items_open_content",
            "content_id",
            unique=True,
            sqlite_where=OPEN_ITEM,
            postgresql_where=OPEN_ITEM,
        ),
        Index("ix_review_items_status", "status", "id"),
        Index("ix_review_items_decided_at", "decided_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    #: "match" (a verdict on content) or "quarantine" (a hash that matched too often).
    kind: Mapped[str] = mapped_column(String(16), default="match")
    content_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    #: For a quarantine item: the hash.
    hash_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    #: "open", "escalated" or "decided"; a claim is `claimed_by` with a lease in the future.
    status: Mapped[str] = mapped_column(String(16), default="open")
    reason: Mapped[str] = mapped_column(String(32))
    verdict: Mapped[str] = mapped_column(String(16))
    #: The bank of the match that decided the verdict (what the queue filters by).
    bank: Mapped[str | None] = mapped_column(String(100), nullable=True)
    key_name: Mapped[str | None] = mapped_column(String(100), nullable=True)
    #: [{"hash_id", "bank", "signal_type", "distance", "action", "variant"?, "part"?}]
    matches: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    #: The upload's own hashes [{"signal_type", "value", "quality"?}] until decided.
    upload_hashes: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON, nullable=True)
    first_seen: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_seen: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    sightings: Mapped[int] = mapped_column(Integer, default=1)
    claimed_by: Mapped[str | None] = mapped_column(String(100), nullable=True)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    decision: Mapped[str | None] = mapped_column(String(16), nullable=True)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class ReviewDecision(Base):
    """One decision on an item (an escalation, then the final one), kept for good."""

    __tablename__ = "review_decisions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    item_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("review_items.id", ondelete="CASCADE"), index=True
    )
    decision: Mapped[str] = mapped_column(String(16))
    #: The verdict the content now has: block (confirm), allow (dismiss), review (escalate).
    verdict: Mapped[str] = mapped_column(String(16))
    key_name: Mapped[str] = mapped_column(String(100))
    note: Mapped[str | None] = mapped_column(String(2000), nullable=True)
    #: The bank the upload's hashes were added to, if any.
    bank: Mapped[str | None] = mapped_column(String(100), nullable=True)
    added: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class HashMatchCount(Base):
    """How often a stored hash matched in five minutes, summed over every server."""

    __tablename__ = "hash_match_counts"
    __table_args__ = (Index("ix_hash_match_counts_bucket", "bucket"),)

    hash_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    #: The start of a five-minute bucket.
    bucket: Mapped[datetime] = mapped_column(UTCDateTime(), primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0)


class Quarantine(Base):
    """A hash that matched far more than its baseline: it may not block meanwhile."""

    __tablename__ = "quarantine"

    hash_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("hashes.id", ondelete="CASCADE"), primary_key=True
    )
    #: "quarantined" (review at most), "lifted" (blocks again) or "exempt" (confirmed by a
    #: moderator: never quarantined again).
    state: Mapped[str] = mapped_column(String(16), default="quarantined")
    matches_last_hour: Mapped[int] = mapped_column(Integer)
    baseline: Mapped[float] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    decided_by: Mapped[str | None] = mapped_column(String(100), nullable=True)


class PeerFeedback(Base):
    """What other platforms told a hash-sharing feed about one of its hashes (StopNCII's
    CSPFeedbacks), counted by feedback value: context for a moderator."""

    __tablename__ = "peer_feedback"

    hash_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("hashes.id", ondelete="CASCADE"), primary_key=True
    )
    #: {"Blocked": 3, "NotBlocked": 1, ...}
    counts: Mapped[dict[str, int]] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Webhook(Base):
    """A platform endpoint told of events. Its secret signs every delivery, so it is kept
    (HMAC needs the key itself); it is shown once, at creation, and never listed."""

    __tablename__ = "webhooks"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    url: Mapped[str] = mapped_column(String(2000))
    events: Mapped[list[str]] = mapped_column(JSON)
    description: Mapped[str] = mapped_column(String(500), default="")
    secret: Mapped[str] = mapped_column(String(100))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_success_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_error: Mapped[str | None] = mapped_column(String(1000), nullable=True)
    last_error_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class WebhookDelivery(Base):
    """One event for one webhook: the transactional outbox. Written in the transaction of
    the change it tells of; sent by a worker, with the same id on every attempt."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (Index("ix_webhook_deliveries_due", "state", "next_attempt_at"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    webhook_id: Mapped[str] = mapped_column(
        String(40), ForeignKey("webhooks.id", ondelete="CASCADE"), index=True
    )
    event_type: Mapped[str] = mapped_column(String(64))
    #: The JSON body exactly as signed and sent.
    body: Mapped[str] = mapped_column(Text)
    #: "pending", "delivered" or "failed" (gave up after the retry window).
    state: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    #: A worker sending it holds it until then.
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_error: Mapped[str | None] = mapped_column(String(1000), nullable=True)


class AuditRow(Base):
    """One change by a person or a key, hash-chained to the row before it."""

    __tablename__ = "audit"
    __table_args__ = (
        Index("ix_audit_actor", "actor"),
        Index("ix_audit_action", "action"),
        Index("ix_audit_created_at", "created_at"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    actor: Mapped[str] = mapped_column(String(120))
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str] = mapped_column(String(300))
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    #: SHA-256 (hex) of the previous row's `row_hash` and this row's canonical content.
    prev_hash: Mapped[str] = mapped_column(String(64))
    row_hash: Mapped[str] = mapped_column(String(64))


class WorkerLease(Base):
    """A duty one worker holds for a while, so that several never do it twice."""

    __tablename__ = "worker_leases"

    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    owner: Mapped[str] = mapped_column(String(100))
    lease_until: Mapped[datetime] = mapped_column(UTCDateTime())
