"""Writes what verdicts leave behind off the request path: the verdict log, the review
queue's sightings, the match counts flood quarantine reads (`app.review.intake`), and
the uploads' rows of the content ledger (`app.ledger`).

Lookups must answer in well under a millisecond; an INSERT per verdict would cost more
than the lookup. Outcomes go onto a queue that a background thread drains in batches,
so a queue item or a count appears up to `interval` later. `flush` writes whatever is
queued now (used on shutdown and by tests).
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Collection, Sequence
from typing import Any, Literal

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.ledger import store as ledger_store
from app.models import utcnow
from app.policy import POLICY_VERSION, Reason, Verdict
from app.review.intake import FloodRule, Outcome, Written, sighting_of, wants_review, write

log = logging.getLogger(__name__)

BATCH = 1000
#: Reasons the "matches" mode leaves out of the log.
UNMATCHED = (Reason.NO_MATCH, Reason.DEGENERATE)


class VerdictRecorder:
    """Queues verdict outcomes and writes them in batches from one thread.

    `review_queue` False opens no queue items; `flood` None counts no matches (no
    quarantine). `on_write` hears what each batch did (metrics)."""

    def __init__(
        self,
        session_factory: Callable[[], Session],
        mode: Literal["all", "matches", "off"] = "matches",
        interval: float = 0.5,
        *,
        review_queue: bool = True,
        flood: FloodRule | None = FloodRule(),
        on_write: Callable[[Written], None] | None = None,
    ) -> None:
        self._session_factory = session_factory
        self._mode = mode
        self._interval = interval
        self._review_queue = review_queue
        self._flood = flood
        self._on_write = on_write
        self._queue: queue.SimpleQueue[Outcome] = queue.SimpleQueue()
        self._stop = threading.Event()
        self._write_lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def record(
        self,
        key_name: str,
        content_id: str | None,
        signal_types: Sequence[str],
        verdict: Verdict,
        own_hashes: Sequence[tuple[str, str, int | None]] = (),
        queue_blocks: Collection[str] = (),
        ledger: Sequence[dict[str, Any]] = (),
    ) -> None:
        """Queue what one verdict leaves behind: a log row if the mode keeps it, its
        matched hashes for counting, a review sighting if it wants review, and the
        upload's `ledger` rows."""
        unmatched = verdict.reason in UNMATCHED
        if unmatched and self._mode != "all":
            if ledger:
                self._queue.put(Outcome(None, (), None, tuple(ledger)))
            return
        now = utcnow()
        row = None
        if self._mode != "off":
            row = {
                "created_at": now,
                "key_name": key_name,
                "content_id": content_id,
                "signal_types": list(signal_types),
                "verdict": verdict.action.value,
                "reason": verdict.reason.value,
                "matches": [
                    {
                        "hash_id": m.hash_id,
                        "bank": m.bank,
                        "signal_type": m.signal_type,
                        "distance": m.distance,
                        "action": m.action.value,
                    }
                    for m in verdict.matches
                ],
                "policy_version": POLICY_VERSION,
            }
        sighting = None
        if self._review_queue and wants_review(verdict, content_id, queue_blocks):
            assert content_id is not None
            sighting = sighting_of(key_name, content_id, verdict, own_hashes, now)
        hash_ids = tuple(m.hash_id for m in verdict.matches) if self._flood else ()
        if row is not None or sighting is not None or hash_ids or ledger:
            self._queue.put(Outcome(row, hash_ids, sighting, tuple(ledger)))

    def _drain(self) -> list[Outcome]:
        batch: list[Outcome] = []
        while len(batch) < BATCH:
            try:
                batch.append(self._queue.get_nowait())
            except queue.Empty:
                break
        return batch

    def _write(self, batch: list[Outcome]) -> Written:
        rows = [row for outcome in batch for row in outcome.ledger]
        if rows:
            # A transaction of its own, before the retried one below, which must not
            # record an upload twice; its lock is held for this insert only.
            with self._session_factory() as session, session.begin():
                ledger_store.append(session, rows)
        # Two servers may open an item for the same content at once: the loser's insert
        # breaks the unique index of open items, and its second try merges into the
        # winner's item.
        for attempt in range(3):
            try:
                with self._session_factory() as session, session.begin():
                    return write(session, batch, utcnow(), self._flood)
            except IntegrityError:
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def flush(self) -> int:
        """Write everything queued so far; return how many outcomes were written."""
        written = 0
        with self._write_lock:
            while batch := self._drain():
                try:
                    done = self._write(batch)
                except Exception:
                    log.exception("verdict log write failed", extra={"rows": len(batch)})
                    return written
                written += len(batch)
                if self._on_write is not None:
                    self._on_write(done)
        return written

    def start(self) -> None:
        """Start the background writer."""
        self._thread = threading.Thread(target=self._run, name="verdict-log", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            self.flush()

    def stop(self) -> None:
        """Stop the writer and write what is left."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self.flush()
