"""Banks, hashes and what matching writes: the change log, keys, verdicts, feeds."""

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
    UniqueConstraint,
    false,
    true,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, BigId, UTCDateTime, utcnow


class Bank(Base):
    """A named list of hashes that share one action."""

    __tablename__ = "banks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    action: Mapped[str] = mapped_column(String(16))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    #: {signal_type: {"match": int, "review": int}}; missing types use the defaults.
    thresholds: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    description: Mapped[str] = mapped_column(String(1000), default="")
    #: Blocks from this bank are queued for review after the fact, as reviews are.
    queue_blocks: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class HashRecord(Base):
    """One reported hash in one bank, with where it came from."""

    __tablename__ = "hashes"
    __table_args__ = (
        # Value first: batch upserts look hashes up by `value IN (...)`, and a leading value
        # column keeps that an index lookup whatever the planner's statistics say (with
        # bank first, PostgreSQL with stale statistics scanned the whole bank per batch).
        UniqueConstraint("value", "signal_type", "bank_id", name="uq_hashes_value_signal_bank"),
        Index("ix_hashes_status_signal", "status", "signal_type"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    bank_id: Mapped[int] = mapped_column(ForeignKey("banks.id", ondelete="CASCADE"))
    signal_type: Mapped[str] = mapped_column(String(16))
    value: Mapped[str] = mapped_column(String(128))
    quality: Mapped[int | None] = mapped_column(Integer, nullable=True)
    status: Mapped[str] = mapped_column(String(16), default="active")
    source: Mapped[str] = mapped_column(String(100), default="api")
    external_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    case_ref: Mapped[str | None] = mapped_column(String(200), nullable=True)
    #: False for hashes from an unconfirmed feed: they cause `review` at most until a
    #: moderator confirms them.
    confirmed: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    first_seen: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class VideoFrameRecord(Base):
    """One sampled frame of a banked video (a `vpdq` hash): its pdq hash and where it is.

    Written once with its video and never changed: a video's identity is the digest of
    its frames. Deleted with the video's hash row.
    """

    __tablename__ = "video_frames"

    hash_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("hashes.id", ondelete="CASCADE"), primary_key=True
    )
    #: The frame's place in the video's hash (0, 1, ...), in time order.
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    frame_number: Mapped[int] = mapped_column(Integer)
    timestamp: Mapped[float] = mapped_column(Float)
    quality: Mapped[int] = mapped_column(Integer)
    value: Mapped[str] = mapped_column(String(64))


class HashPartRecord(Base):
    """One part of an image banked from media: a pdq hash of a crop, a caption band or a
    small rotation of the picture (see `matcher.variants.bank_parts`), matched on behalf
    of its hash row. Written once with it; deleted with it."""

    __tablename__ = "hash_parts"

    hash_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("hashes.id", ondelete="CASCADE"), primary_key=True
    )
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    #: How the part was made (`crop90:2.5`, `band:top:white`, `rotated:+3`).
    name: Mapped[str] = mapped_column(String(32))
    quality: Mapped[int] = mapped_column(Integer)
    value: Mapped[str] = mapped_column(String(64))


class HashChange(Base):
    """One committed change to what matches: hashes to re-read, or bank policies to reload.

    Append-only, ordered by `seq`. Every process that serves matches applies the rows after
    the last one it applied, re-reading the named hashes' current state, so replicas
    converge on the database whatever order or how often a row is applied.
    """

    __tablename__ = "hash_changes"
    # AUTOINCREMENT: SQLite never re-uses a sequence number, even after pruning.
    __table_args__ = ({"sqlite_autoincrement": True},)

    seq: Mapped[int] = mapped_column(BigId, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    #: "hashes" (re-read `hash_ids`), "banks" (reload every bank's policy) or
    #: "quarantine" (reload the quarantined hashes).
    kind: Mapped[str] = mapped_column(String(16))
    hash_ids: Mapped[list[int] | None] = mapped_column(JSON, nullable=True)


class ApiKey(Base):
    """A client credential. Only a SHA-256 of the secret is kept."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)
    scopes: Mapped[list[str]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class VerdictLogEntry(Base):
    """One verdict given to one item or file. Never media, never the uploader."""

    __tablename__ = "verdict_log"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    key_name: Mapped[str] = mapped_column(String(100))
    content_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    signal_types: Mapped[list[str]] = mapped_column(JSON)
    verdict: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(String(32))
    #: [{"hash_id": int, "bank": str, "signal_type": str, "distance": int}, ...]
    matches: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    policy_version: Mapped[str] = mapped_column(String(32))


class Feed(Base):
    """A hash-sharing feed that fills one bank, with its sync state.

    Credentials are never stored here: they come from the environment or a secrets file.
    """

    __tablename__ = "feeds"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    kind: Mapped[str] = mapped_column(String(32))
    url: Mapped[str] = mapped_column(String(2000))
    bank_id: Mapped[int] = mapped_column(ForeignKey("banks.id", ondelete="CASCADE"))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    #: "confirmed" or "unconfirmed" (its hashes cause `review` at most until confirmed).
    trust: Mapped[str] = mapped_column(String(16), default="confirmed")
    interval_seconds: Mapped[int] = mapped_column(Integer, default=300)
    #: Where the next fetch starts; its shape belongs to the feed's adapter.
    checkpoint: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    #: The last verdict log id already turned into feedback.
    feedback_cursor: Mapped[int] = mapped_column(BigId, default=0)
    records: Mapped[int] = mapped_column(BigId, default=0)
    added: Mapped[int] = mapped_column(BigId, default=0)
    removed: Mapped[int] = mapped_column(BigId, default=0)
    rejected: Mapped[int] = mapped_column(BigId, default=0)
    last_success_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_error: Mapped[str | None] = mapped_column(String(1000), nullable=True)
    last_error_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class FeedFeedback(Base):
    """One piece of feedback on a feed's hash, sent upstream once (`sent_at` set)."""

    __tablename__ = "feed_feedback"
    __table_args__ = (
        # The same feedback on the same hash is one record, however many uploads matched.
        UniqueConstraint("feed_id", "hash_id", "feedback", name="uq_feed_feedback"),
        Index("ix_feed_feedback_pending", "feed_id", "sent_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    feed_id: Mapped[int] = mapped_column(ForeignKey("feeds.id", ondelete="CASCADE"))
    hash_id: Mapped[int] = mapped_column(BigInteger)
    signal_type: Mapped[str] = mapped_column(String(16))
    value: Mapped[str] = mapped_column(String(128))
    #: StopNCII's vocabulary: PendingReview (matched), Blocked, NotBlocked (moderated).
    feedback: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
