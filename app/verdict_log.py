"""Writes verdicts to the log off the request path.

Lookups must answer in well under a millisecond; an INSERT per verdict would cost more
than the lookup. Verdicts go onto a queue that a background thread drains in batches.
`flush` writes whatever is queued now (used on shutdown and by tests).
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Sequence
from typing import Any, Literal

from sqlalchemy.orm import Session

from app.models import utcnow
from app.policy import POLICY_VERSION, Reason, Verdict
from app.store.verdicts import insert_entries

log = logging.getLogger(__name__)

BATCH = 1000


class VerdictRecorder:
    """Queues verdict log rows and writes them in batches from one thread."""

    def __init__(
        self,
        session_factory: Callable[[], Session],
        mode: Literal["all", "matches", "off"] = "matches",
        interval: float = 0.5,
    ) -> None:
        self._session_factory = session_factory
        self._mode = mode
        self._interval = interval
        self._queue: queue.SimpleQueue[dict[str, Any]] = queue.SimpleQueue()
        self._stop = threading.Event()
        self._write_lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def record(
        self,
        key_name: str,
        content_id: str | None,
        signal_types: Sequence[str],
        verdict: Verdict,
    ) -> None:
        """Queue one verdict, if the configured mode keeps it."""
        if self._mode == "off":
            return
        if self._mode == "matches" and verdict.reason in (Reason.NO_MATCH, Reason.DEGENERATE):
            return
        self._queue.put(
            {
                "created_at": utcnow(),
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
        )

    def flush(self) -> int:
        """Write everything queued so far; return how many rows were written."""
        written = 0
        with self._write_lock:
            while True:
                batch: list[dict[str, Any]] = []
                while len(batch) < BATCH:
                    try:
                        batch.append(self._queue.get_nowait())
                    except queue.Empty:
                        break
                if not batch:
                    return written
                try:
                    with self._session_factory() as session, session.begin():
                        insert_entries(session, batch)
                    written += len(batch)
                except Exception:
                    log.exception("verdict log write failed", extra={"rows": len(batch)})
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
