"""Keeps one process's live index in step with the change log, whoever wrote the change.

Every serving process (and every uvicorn worker) runs a `ChangeFollower`: a thread that
applies the change log after the last sequence number it applied. On PostgreSQL it
sleeps on LISTEN and wakes at the commit of a change (NOTIFY), polling as a fallback; on
SQLite it polls. Applying re-reads the named hashes' current state, so a change applied
twice, or after a newer one, still leaves the index equal to the database.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, NamedTuple

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from app import snapshots
from app.config import Settings
from app.live_index import LiveIndex
from app.store import changes

if TYPE_CHECKING:
    # Imported where a PostgreSQL listener is opened: a server on SQLite never needs the
    # driver (9 MB a process).
    import psycopg

log = logging.getLogger(__name__)

#: Change rows read per query while catching up.
PAGE = 200


class Lag(NamedTuple):
    """How far behind the database this process is."""

    sequences: int
    seconds: float


class ChangeFollower:
    """Applies the change log to a live index, in a thread of its own."""

    def __init__(
        self,
        engine: Engine,
        sessions: sessionmaker[Session],
        live: LiveIndex,
        interval: float,
        on_apply: Callable[[int], None] | None = None,
    ) -> None:
        self.engine = engine
        self.sessions = sessions
        self.live = live
        self.interval = interval
        self.on_apply = on_apply
        self.cursor = 0  # last sequence number applied
        self.head = 0  # newest sequence number seen in the database
        self.oldest_pending: float | None = None  # commit time of the first unapplied change
        self.caught_up = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        #: Held while a page of changes is read and applied: hold it to see the index
        #: exactly at `cursor`, and while committing a change and applying it here (see
        #: `applied_here`).
        self.applying = threading.Lock()
        #: Changes this process applied as it wrote them, which need no second reading.
        self._applied_here: set[int] = set()
        self._applied_here_lock = threading.Lock()

    def applied_here(self, seqs: Iterable[int]) -> None:
        """Note changes this process wrote and already applied: catching up skips them.

        The writer must hold `applying` from its commit to this call. Otherwise a
        catch-up could read the hashes before the commit and apply what it read after
        the writer's own apply, undoing it, and this change, skipped, would never put it
        right (a hash removed and added again at once stayed out of the index)."""
        with self._applied_here_lock:
            self._applied_here.update(seq for seq in seqs if seq > self.cursor)

    def start_from(self, seq: int) -> None:
        """Mark every change up to `seq` applied (the index was just loaded after it)."""
        self.cursor = self.head = seq

    def catch_up(self) -> int:
        """Apply every committed change after the cursor; return how many were applied."""
        applied = 0
        with self.sessions() as session:
            while True:
                # A page at a time under the lock, so a long catch-up does not hold up
                # this process's own writes; each page reads in a fresh transaction.
                with self.applying:
                    page = changes.after(session, self.cursor, PAGE)
                    if not page:
                        break
                    self.oldest_pending = page[0].created_at.timestamp()
                    with self._applied_here_lock:
                        skip = self._applied_here & {change.seq for change in page}
                    for change in page:
                        if change.kind == changes.BANKS:
                            self.live.refresh_banks(session)
                        elif change.kind == changes.QUARANTINE:
                            self.live.refresh_quarantine(session)
                        elif change.seq not in skip:
                            self.live.sync(session, change.hash_ids)
                        self.cursor = change.seq
                    applied += len(page)
                    # Old rows must not stay pinned, and the next page must see commits
                    # made while this one was applied.
                    session.rollback()
            self.head = max(self.cursor, changes.head(session))
        with self._applied_here_lock:
            self._applied_here = {seq for seq in self._applied_here if seq > self.cursor}
        self.oldest_pending = None
        self.caught_up = True
        if applied and self.on_apply:
            self.on_apply(applied)
        return applied

    def lag(self) -> Lag:
        """Sequence numbers and seconds behind, as of the last poll."""
        pending = self.oldest_pending
        return Lag(
            sequences=max(0, self.head - self.cursor),
            seconds=max(0.0, time.time() - pending) if pending is not None else 0.0,
        )

    def start(self) -> None:
        """Follow the change log in a background thread until `stop`."""
        self._thread = threading.Thread(target=self._run, name="change-follower", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop following and wait for the thread."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _run(self) -> None:
        listener = self._listen()
        failures = 0
        while not self._stop.is_set():
            try:
                self._wait(listener)
                self.catch_up()
                failures = 0
            except Exception:
                # The database went away or a change failed to apply: report not ready
                # and retry with backoff; the cursor only moves past applied changes.
                self.caught_up = False
                failures += 1
                log.exception("change log: catch-up failed", extra={"failures": failures})
                if listener is not None:
                    listener.close()
                    listener = None
                self._stop.wait(min(30.0, self.interval * 2**failures))
                listener = listener or self._listen()

    def _listen(self) -> psycopg.Connection | None:
        """A PostgreSQL connection LISTENing on the change channel, or None (polling)."""
        if self.engine.dialect.name != "postgresql":
            return None
        import psycopg

        url = self.engine.url.set(drivername="postgresql")
        try:
            connection = psycopg.connect(
                url.render_as_string(hide_password=False), autocommit=True, connect_timeout=5
            )
            connection.execute(f"LISTEN {changes.CHANNEL}")
        except psycopg.Error:
            log.warning("change log: LISTEN failed, polling instead", exc_info=True)
            return None
        return connection

    def _wait(self, listener: psycopg.Connection | None) -> None:
        """Until a change is notified, the poll interval passes, or `stop` is called."""
        if listener is None:
            self._stop.wait(self.interval)
            return
        # Polling stays the fallback: a NOTIFY lost with a dropped connection is caught
        # at the next interval.
        for _ in listener.notifies(timeout=self.interval, stop_after=1):
            pass


def restore_index(
    settings: Settings, sessions: sessionmaker[Session], live: LiveIndex, follower: ChangeFollower
) -> None:
    """Fill `live` from the newest snapshot, or else from the database, then apply every
    change committed after what it holds."""
    with sessions() as session:
        # Read the head first: a change committed during the load is applied again after
        # it, which changes nothing (applying re-reads the database).
        head = changes.head(session)
        seq = None
        if settings.snapshot_dir is not None:
            seq = snapshots.load_newest(
                live, settings.snapshot_dir, settings.index_backend, live.loaders()
            )
        if seq is not None and seq <= head:
            live.refresh_banks(session)
            live.loaded = True
        else:
            if seq is not None:
                log.warning("index snapshot is ahead of this database: ignored")
                live.reset()
            live.load(session)
            seq = head
    follower.start_from(seq)
    follower.catch_up()
