"""Applies what feeds fetch to their banks, page by page, and sends feedback upstream.

Each page is applied in one transaction together with the checkpoint after it, so a
crash, a SIGKILL or a failed fetch never leaves the checkpoint ahead of what is
committed, and re-applying a page changes nothing (records are upserted). Faults worth
retrying (timeouts, 5xx, 429, malformed pages) are retried with exponential backoff,
honouring Retry-After; the feed's last error is kept for `GET /v1/feeds`.

Feedback is exactly-once on our side: verdicts become feedback records in the same
transaction that moves the feed's verdict cursor, and a record is marked sent once its
batch was taken. A crash between upstream's answer and that commit resends the batch
once; StopNCII feedback is a per-hash state, so the resend changes nothing upstream.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import TypeVar

from sqlalchemy import update
from sqlalchemy.orm import Session

from app.feeds.base import (
    Checkpoint,
    FeedAdapter,
    Feedback,
    FeedError,
    FeedRecord,
    FeedUnavailable,
    Page,
    RecordStatus,
)
from app.models import Bank, Feed, utcnow
from app.store import feeds as feed_store
from app.store.hashes import NewHash, add_hashes, retire_hashes

log = logging.getLogger(__name__)

T = TypeVar("T")
#: Feedback records per SubmitFeedback call.
FEEDBACK_BATCH = 500


@dataclass(slots=True)
class Applied:
    """What applying records to a bank did."""

    added: int = 0
    reactivated: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    #: Records replaced by a later record for the same hash in the same batch.
    superseded: int = 0
    #: Withdrawals or deletions of hashes the bank does not hold (nothing to remove).
    not_held: int = 0

    def __iadd__(self, other: Applied) -> Applied:
        for name in self.__slots__:  # type: ignore[attr-defined]
            setattr(self, name, getattr(self, name) + getattr(other, name))
        return self


def apply_records(
    session: Session,
    bank: Bank,
    records: Sequence[FeedRecord],
    source: str,
    *,
    confirmed: bool = True,
    retire_any_source: bool = False,
) -> Applied:
    """Upsert active records and retire withdrawn or deleted ones, in the caller's
    transaction. A later record for the same hash replaces an earlier one."""
    latest = {record.key: record for record in records}
    superseded = len(records) - len(latest)
    result = add_hashes(
        session,
        bank,
        [
            NewHash(r.signal_type, r.value, r.quality, r.external_id, r.case_ref, r.frames)
            for r in latest.values()
            if r.status is RecordStatus.ACTIVE
        ],
        source,
        confirmed=confirmed,
    )
    applied = Applied(
        result.added, result.reactivated, result.updated, result.unchanged, superseded=superseded
    )
    peer = {
        key: r.peer_feedback
        for key, r in latest.items()
        if r.peer_feedback and r.status is RecordStatus.ACTIVE
    }
    if peer:
        feed_store.record_peer_feedback(session, bank, peer)
    for status in (RecordStatus.WITHDRAWN, RecordStatus.DELETED):
        keys = [key for key, r in latest.items() if r.status is status]
        if keys:
            retired = len(
                retire_hashes(
                    session, bank, keys, status.value, None if retire_any_source else source
                )
            )
            applied.removed += retired
            applied.not_held += len(keys) - retired
    return applied


@dataclass(frozen=True, slots=True)
class Backoff:
    """How faults worth retrying are retried."""

    attempts: int = 6
    base: float = 1.0
    ceiling: float = 60.0

    def delay(self, attempt: int, retry_after: float | None) -> float:
        """Seconds before retry number `attempt` (from 0), with jitter; at least what the
        server asked for."""
        exponential = min(self.ceiling, self.base * 2**attempt) * random.uniform(0.5, 1.0)
        return max(exponential, min(retry_after or 0.0, self.ceiling * 5))


@dataclass(slots=True)
class SyncReport:
    """One feed's sync."""

    feed: str
    pages: int = 0
    records: int = 0
    rejected: int = 0
    applied: Applied = field(default_factory=Applied)
    feedback_sent: int = 0
    #: Why fetching failed (the sync failed).
    error: str | None = None
    #: Why feedback could not be sent (the hashes were fetched; feedback stays pending).
    feedback_error: str | None = None


class FeedRunner:
    """Syncs feeds from their checkpoints; the CLI's `feeds sync` and the tests drive it."""

    def __init__(
        self,
        sessions: Callable[[], Session],
        adapter_for: Callable[[Feed], FeedAdapter],
        backoff: Backoff | None = None,
        stop: threading.Event | None = None,
    ) -> None:
        self.sessions = sessions
        self.adapter_for = adapter_for
        self.backoff = backoff or Backoff()
        self.stop = stop or threading.Event()

    def _retrying(self, call: Callable[[], T], what: str) -> T:
        attempt = 0
        while True:
            try:
                return call()
            except FeedUnavailable as error:
                if attempt + 1 >= self.backoff.attempts or self.stop.is_set():
                    raise
                delay = self.backoff.delay(attempt, error.retry_after)
                log.warning(
                    "feed fault, retrying",
                    extra={"feed": what, "error": str(error), "delay_s": round(delay, 2)},
                )
                if self.stop.wait(delay):
                    raise
                attempt += 1

    def _apply(self, feed: Feed, page: Page) -> Applied:
        with self.sessions() as session, session.begin():
            bank = session.get(Bank, feed.bank_id)
            if bank is None:
                raise FeedError(f"the bank of feed {feed.name!r} is gone")
            applied = apply_records(
                session,
                bank,
                page.records,
                feed_store.source_of(feed.name),
                confirmed=feed.trust == "confirmed",
            )
            values: dict[str, object] = {
                "checkpoint": page.checkpoint,
                "records": Feed.records + len(page.records) + len(page.rejects),
                "added": Feed.added + applied.added + applied.reactivated,
                "removed": Feed.removed + applied.removed,
                "rejected": Feed.rejected + len(page.rejects),
            }
            if page.done:
                values.update(last_success_at=utcnow(), last_error=None, last_error_at=None)
            session.execute(update(Feed).where(Feed.id == feed.id).values(**values))
        for reject in page.rejects[:20]:
            log.warning(
                "feed record rejected",
                extra={"feed": feed.name, "where": reject.where, "reason": reject.reason},
            )
        return applied

    def sync(self, name: str) -> SyncReport:
        """Fetch and apply pages until the feed is caught up, then send its feedback."""
        with self.sessions() as session:
            feed = feed_store.get_feed(session, name)
            session.expunge(feed)
        report = SyncReport(feed.name)
        checkpoint: Checkpoint | None = feed.checkpoint
        try:
            adapter = self.adapter_for(feed)
            while not self.stop.is_set():
                page = self._retrying(partial(adapter.fetch, checkpoint), feed.name)
                report.applied += self._apply(feed, page)
                report.pages += 1
                report.records += len(page.records)
                report.rejected += len(page.rejects)
                checkpoint = page.checkpoint
                if page.done:
                    break
        except FeedError as error:
            report.error = str(error)
            self._record_error(feed, str(error))
            log.error("feed sync failed", extra={"feed": feed.name, "error": str(error)})
            return report
        # Feedback is a duty of its own: the hashes are fetched and matching whether or
        # not it can be sent (a feed without a feedback key, its endpoint down), and what
        # was not sent stays pending for the next sync.
        if adapter.takes_feedback and not self.stop.is_set():
            try:
                report.feedback_sent = self.send_feedback(feed, adapter)
            except FeedError as error:
                report.feedback_error = str(error)
                self._record_error(feed, f"feedback not sent: {error}")
                log.warning(
                    "feed feedback not sent; it stays pending",
                    extra={"feed": feed.name, "error": str(error)},
                )
        log.info(
            "feed synced",
            extra={
                "feed": feed.name,
                "pages": report.pages,
                "records": report.records,
                "rejected": report.rejected,
                "added": report.applied.added + report.applied.reactivated,
                "removed": report.applied.removed,
                "feedback_sent": report.feedback_sent,
            },
        )
        return report

    def _record_error(self, feed: Feed, message: str) -> None:
        with self.sessions() as session, session.begin():
            feed_store.record_error(session, feed.id, message)

    def send_feedback(self, feed: Feed, adapter: FeedAdapter) -> int:
        """Turn new verdicts into feedback records, then send every pending one."""
        with self.sessions() as session, session.begin():
            live = session.get(Feed, feed.id)
            if live is not None:
                feed_store.collect_feedback(session, live)
        sent = 0
        while not self.stop.is_set():
            with self.sessions() as session:
                pending = feed_store.pending_feedback(session, feed.id, FEEDBACK_BATCH)
                batch = [Feedback(p.signal_type, p.value, p.feedback) for p in pending]
                ids = [p.id for p in pending]
            if not batch:
                break
            self._retrying(partial(adapter.submit_feedback, batch), feed.name)
            with self.sessions() as session, session.begin():
                feed_store.mark_sent(session, ids)
            sent += len(batch)
        return sent

    def sync_all(self) -> list[SyncReport]:
        """Sync every enabled feed once, in name order."""
        with self.sessions() as session:
            names = [feed.name for feed in feed_store.list_feeds(session, enabled_only=True)]
        return [self.sync(name) for name in names if not self.stop.is_set()]

    def follow(self, tick: float = 1.0) -> None:
        """Sync each enabled feed whenever its polling interval has passed, until `stop`."""
        due: dict[str, float] = {}
        while not self.stop.is_set():
            with self.sessions() as session:
                feeds = {f.name: f.interval_seconds for f in feed_store.list_feeds(session, True)}
            now = time.monotonic()
            for name, interval in feeds.items():
                if self.stop.is_set():
                    break
                if due.get(name, 0.0) <= now:
                    self.sync(name)
                    due[name] = time.monotonic() + interval
            self.stop.wait(tick)
