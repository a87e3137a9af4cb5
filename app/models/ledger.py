"""The content ledger and its sweep: hashes of what was uploaded (never the media), and
what the sweep found when a hash arrived after the upload it matches.

The ledger is opt-in (`HASHWALL_LEDGER_DAYS`) and sensitive: it holds a fingerprint of
every upload that named its content id. Only `admin` keys read it, and never its values.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, Float, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, BigId, UTCDateTime, utcnow


class LedgerEntry(Base):
    """One hash of one upload: its own pdq, md5, sha256 or vpdq, or a candidate hash
    `/v1/match/media` computed for it (`candidate`: mirrored, trimmed, ...)."""

    __tablename__ = "ledger"
    __table_args__ = (Index("ix_ledger_content_id", "content_id"), {"sqlite_autoincrement": True})

    #: Handed out in commit order (writers serialise on a lock, as the change log's do),
    #: so the sweep can follow the ledger by id.
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    content_id: Mapped[str] = mapped_column(String(200))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    signal_type: Mapped[str] = mapped_column(String(16))
    #: The hash's text form (a video's frames for vpdq).
    value: Mapped[str] = mapped_column(Text)
    quality: Mapped[int | None] = mapped_column(Integer, nullable=True)
    candidate: Mapped[str | None] = mapped_column(String(64), nullable=True)
    #: For the upload's own pdq: whether it had the detail candidates need.
    detailed: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    #: The change-log sequence number the verdict was given at: changes after it were
    #: not seen by that verdict, and are the sweep's to find.
    seen_seq: Mapped[int] = mapped_column(BigInteger, default=0)
    #: The hashes that verdict matched: a server applies its own writes before its
    #: cursor reaches them, so its verdicts may have seen changes after `seen_seq`.
    matched: Mapped[list[int] | None] = mapped_column(JSON, nullable=True)


class LedgerForget(Base):
    """A content id forgotten: rows of it recorded before then, still queued in some
    server's recorder, are dropped when they arrive. Kept a day."""

    __tablename__ = "ledger_forgets"

    content_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    forgotten_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)


class SweepHit(Base):
    """One banked hash the sweep found in one recorded upload."""

    __tablename__ = "sweep_hits"
    __table_args__ = (
        # A hash re-sent by a feed, or swept again after a restart, never reports twice;
        # a confirmation that turns a review into a block reports once more.
        Index("uq_sweep_hits", "content_id", "hash_id", "verdict", unique=True),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    content_id: Mapped[str] = mapped_column(String(200))
    hash_id: Mapped[int] = mapped_column(BigInteger)
    bank: Mapped[str] = mapped_column(String(100))
    signal_type: Mapped[str] = mapped_column(String(16))
    distance: Mapped[int] = mapped_column(Integer)
    #: The upload's candidate that matched (`original`: its own hash).
    candidate: Mapped[str] = mapped_column(String(64))
    #: "block" (a confirmed hash of a block bank) or "review".
    verdict: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(String(32))
    #: When the content was recorded, and when the sweep found it.
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime())
    found_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    #: The change that made the hash active.
    change_seq: Mapped[int] = mapped_column(BigInteger)
    #: The webhook event's key (the `sweep.matched` event of this hit's content and bank).
    event: Mapped[str] = mapped_column(String(64))


class SweepState(Base):
    """The sweep's place in the change log and its running totals (one row)."""

    __tablename__ = "sweep_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    #: Every change up to this sequence number has been swept within the match distance,
    #: and up to `review_seq` within the review distance too.
    change_seq: Mapped[int] = mapped_column(BigInteger, default=0)
    review_seq: Mapped[int] = mapped_column(BigInteger, default=0)
    #: Every ledger row up to this id has been checked against every change up to
    #: `change_seq` (rows recorded after the sweep of a change their verdict missed).
    ledger_seq: Mapped[int] = mapped_column(BigInteger, default=0)
    hashes_swept: Mapped[int] = mapped_column(BigInteger, default=0)
    contents_found: Mapped[int] = mapped_column(BigInteger, default=0)
    last_sweep_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_sweep_seconds: Mapped[float | None] = mapped_column(Float, nullable=True)
    #: Ids of the banks that were enabled block or review banks when last looked at:
    #: one that becomes so (enabled again, or made a block bank) has its hashes swept.
    banks: Mapped[list[int] | None] = mapped_column(JSON, nullable=True)
    #: The sweep-lag histogram: cumulative counts per bucket bound, their sum and count.
    lag: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
