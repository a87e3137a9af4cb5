"""Feeds: their settings and sync state, and the feedback owed to them upstream."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import case, func, select, update
from sqlalchemy.orm import Session

from app.errors import Conflict, InvalidInput, NotFound
from app.models import (
    Bank,
    Feed,
    FeedFeedback,
    HashRecord,
    PeerFeedback,
    VerdictLogEntry,
    utcnow,
)
from app.store import insert_for, insert_ignoring, table_of
from app.store.hashes import find_hashes

KINDS = ("stopncii", "threatexchange", "file")
#: The kinds of feed that take feedback upstream.
FEEDBACK_KINDS = ("stopncii",)
TRUST = ("confirmed", "unconfirmed")
#: Verdict log rows read per feedback collection step.
VERDICT_BATCH = 1000
#: The feedback a match gives (StopNCII: "there was a match", not yet reviewed)...
MATCHED = "PendingReview"
#: ...a match the bank blocked on its own (a confirmed hash within `match`), or a
#: moderator's confirmation.
BLOCKED = "Blocked"
#: The feedback moderator decisions give.
DECISIONS = {"confirm": BLOCKED, "dismiss": "NotBlocked"}


def source_of(feed_name: str) -> str:
    """What hashes from this feed carry as their `source`."""
    return f"feed:{feed_name}"


def create_feed(
    session: Session,
    name: str,
    kind: str,
    url: str,
    bank: Bank,
    trust: str = "confirmed",
    interval_seconds: int = 300,
    enabled: bool = True,
) -> Feed:
    """A new feed filling `bank`; `Conflict` if the name is taken."""
    if kind not in KINDS:
        raise InvalidInput(f"unknown feed kind {kind!r}: expected one of {', '.join(KINDS)}")
    if trust not in TRUST:
        raise InvalidInput(f"unknown trust {trust!r}: expected one of {', '.join(TRUST)}")
    if interval_seconds < 1:
        raise InvalidInput("the polling interval must be at least 1 second")
    if session.scalar(select(Feed.id).where(Feed.name == name)) is not None:
        raise Conflict(f"a feed named {name!r} already exists")
    feed = Feed(
        name=name,
        kind=kind,
        url=url,
        bank_id=bank.id,
        trust=trust,
        interval_seconds=interval_seconds,
        enabled=enabled,
        feedback_cursor=0,
        records=0,
        added=0,
        removed=0,
        rejected=0,
    )
    session.add(feed)
    session.flush()
    return feed


def get_feed(session: Session, name: str) -> Feed:
    """The feed called `name`, or raise `NotFound`."""
    feed = session.scalar(select(Feed).where(Feed.name == name))
    if feed is None:
        raise NotFound(f"no feed named {name!r}")
    return feed


def delete_feed(session: Session, name: str) -> Feed:
    """Remove a feed and its pending feedback; the hashes it brought stay in its bank."""
    feed = get_feed(session, name)
    session.delete(feed)
    session.flush()
    return feed


def list_feeds(session: Session, enabled_only: bool = False) -> list[Feed]:
    """Every feed (or every enabled one), by name."""
    query = select(Feed).order_by(Feed.name)
    if enabled_only:
        query = query.where(Feed.enabled.is_(True))
    return list(session.scalars(query))


def bank_names(session: Session) -> dict[int, str]:
    """Bank names by id."""
    return {bank_id: name for bank_id, name in session.execute(select(Bank.id, Bank.name))}


def record_error(session: Session, feed_id: int, message: str) -> None:
    """Remember why the last sync of a feed failed."""
    session.execute(
        update(Feed)
        .where(Feed.id == feed_id)
        .values(last_error=message[:1000], last_error_at=utcnow())
    )


def _insert_feedback(session: Session, rows: list[dict[str, Any]]) -> int:
    if not rows:
        return 0
    statement = insert_ignoring(
        session, FeedFeedback, ["feed_id", "hash_id", "feedback"]
    ).returning(table_of(FeedFeedback).c.id)
    return len(session.execute(statement, rows).all())


def _feed_hashes(
    session: Session, feed: Feed, hash_ids: Iterable[int]
) -> list[tuple[int, str, str]]:
    """(id, signal type, value) of those hashes that this feed put in its bank."""
    ids = sorted(set(hash_ids))
    found: list[tuple[int, str, str]] = []
    for start in range(0, len(ids), 500):
        rows = session.execute(
            select(HashRecord.id, HashRecord.signal_type, HashRecord.value).where(
                HashRecord.id.in_(ids[start : start + 500]),
                HashRecord.bank_id == feed.bank_id,
                HashRecord.source == source_of(feed.name),
            )
        )
        found.extend((hash_id, signal_type, value) for hash_id, signal_type, value in rows)
    return found


def collect_feedback(session: Session, feed: Feed) -> int:
    """Turn verdicts that matched this feed's hashes since the last call into feedback
    records (one per hash and value, however many uploads matched it): PendingReview, or
    Blocked where the match blocked on its own. Return how many are new.

    The cursor moves in the same transaction as the records it produced, so every
    verdict is read exactly once."""
    created = 0
    while True:
        entries = session.execute(
            select(VerdictLogEntry.id, VerdictLogEntry.matches)
            .where(VerdictLogEntry.id > feed.feedback_cursor)
            .order_by(VerdictLogEntry.id)
            .limit(VERDICT_BATCH)
        ).all()
        if not entries:
            return created
        feedback: dict[int, set[str]] = {}
        for _, matches in entries:
            for m in matches or []:
                blocked = m.get("action") == "block"
                feedback.setdefault(m["hash_id"], set()).add(BLOCKED if blocked else MATCHED)
        now = utcnow()
        created += _insert_feedback(
            session,
            [
                {
                    "feed_id": feed.id,
                    "hash_id": hash_id,
                    "signal_type": signal_type,
                    "value": value,
                    "feedback": kind,
                    "created_at": now,
                }
                for hash_id, signal_type, value in _feed_hashes(session, feed, feedback)
                for kind in sorted(feedback[hash_id])
            ],
        )
        feed.feedback_cursor = entries[-1][0]
        session.flush()


def record_decisions(session: Session, hashes: Sequence[HashRecord], decision: str) -> int:
    """Feedback for a moderator's decision on hashes that came from feeds."""
    feeds = {
        source_of(f.name): f
        for f in session.scalars(select(Feed).where(Feed.kind.in_(FEEDBACK_KINDS)))
    }
    now = utcnow()
    return _insert_feedback(
        session,
        [
            {
                "feed_id": feeds[record.source].id,
                "hash_id": record.id,
                "signal_type": record.signal_type,
                "value": record.value,
                "feedback": DECISIONS[decision],
                "created_at": now,
            }
            for record in hashes
            if record.source in feeds
        ],
    )


def pending_feedback(session: Session, feed_id: int, limit: int) -> list[FeedFeedback]:
    """Feedback not yet sent, oldest first."""
    return list(
        session.scalars(
            select(FeedFeedback)
            .where(FeedFeedback.feed_id == feed_id, FeedFeedback.sent_at.is_(None))
            .order_by(FeedFeedback.id)
            .limit(limit)
        )
    )


def mark_sent(session: Session, ids: Sequence[int]) -> None:
    """Record that upstream took these feedback records."""
    session.execute(
        update(FeedFeedback).where(FeedFeedback.id.in_(list(ids))).values(sent_at=utcnow())
    )


def feedback_counts(session: Session) -> dict[int, tuple[int, int]]:
    """(pending, sent) feedback records per feed id."""
    rows = session.execute(
        select(
            FeedFeedback.feed_id,
            func.sum(case((FeedFeedback.sent_at.is_(None), 1), else_=0)),
            func.sum(case((FeedFeedback.sent_at.is_not(None), 1), else_=0)),
        ).group_by(FeedFeedback.feed_id)
    )
    return {feed_id: (int(pending or 0), int(sent or 0)) for feed_id, pending, sent in rows}


def feed_states(session: Session) -> list[dict[str, Any]]:
    """Each feed's settings and sync state, as `feeds list --json` and the API show it."""
    banks = bank_names(session)
    feedback = feedback_counts(session)
    return [
        {
            "name": f.name,
            "kind": f.kind,
            "url": f.url,
            "bank": banks.get(f.bank_id),
            "enabled": f.enabled,
            "trust": f.trust,
            "interval_seconds": f.interval_seconds,
            "checkpoint": f.checkpoint,
            "records": f.records,
            "added": f.added,
            "removed": f.removed,
            "rejected": f.rejected,
            "feedback_pending": feedback.get(f.id, (0, 0))[0],
            "feedback_sent": feedback.get(f.id, (0, 0))[1],
            "last_success_at": f.last_success_at.isoformat() if f.last_success_at else None,
            "last_error": f.last_error,
            "last_error_at": f.last_error_at.isoformat() if f.last_error_at else None,
        }
        for f in list_feeds(session)
    ]


def record_peer_feedback(
    session: Session, bank: Bank, counts: Mapping[tuple[str, str], Mapping[str, int]]
) -> None:
    """Keep what other platforms said of these hashes (by signal type and value), as the
    feed sent it last."""
    found = {(r.signal_type, r.value): r.id for r in find_hashes(session, bank, counts)}
    if not found:
        return
    statement = insert_for(session, PeerFeedback)
    statement = statement.on_conflict_do_update(
        index_elements=["hash_id"],
        set_={"counts": statement.excluded.counts, "updated_at": statement.excluded.updated_at},
    )
    now = utcnow()
    session.execute(
        statement,
        [
            {"hash_id": hash_id, "counts": dict(counts[key]), "updated_at": now}
            for key, hash_id in sorted(found.items(), key=lambda kv: kv[1])
        ],
    )


def peer_feedback(session: Session, hash_ids: Iterable[int]) -> dict[int, dict[str, int]]:
    """Other platforms' feedback counts per hash id, where a feed sent them."""
    ids = sorted(set(hash_ids))
    if not ids:
        return {}
    rows = session.execute(
        select(PeerFeedback.hash_id, PeerFeedback.counts).where(PeerFeedback.hash_id.in_(ids))
    )
    return {hash_id: dict(counts) for hash_id, counts in rows}
