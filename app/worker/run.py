"""The worker's loop: each tick, every duty whose time has come.

- Feeds: each enabled feed is synced under the lease `feed:NAME`; once synced, the
  lease is kept until the feed's next poll, so that no worker syncs it sooner.
- Webhooks: due deliveries, each claimed by its own row lease (`app.webhooks.store`).
- The takedown sweep (with the ledger on): under the lease `sweep`, renewed after each
  commit; only its holder keeps the sweep's indexes in memory (`app.ledger.sweep`).
- Retention: under the lease `retention`, held for an hour.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timedelta

import httpx
from sqlalchemy.orm import Session

from app.config import Settings
from app.feeds.runner import FeedRunner, SyncReport
from app.ledger import store as ledger_store
from app.ledger.sweep import Sweeper, SweepRound
from app.models import utcnow
from app.store import feeds as feed_store
from app.webhooks.delivery import Sent, send_due
from app.webhooks.store import lease_for
from app.worker import leases
from app.worker.retention import Purged, purge

log = logging.getLogger(__name__)

#: A feed's lease while it syncs: a sync longer than this may be started again by
#: another worker, which is safe (pages apply idempotently), only wasted.
SYNC_HOLD = timedelta(minutes=15)
RETENTION_EVERY = timedelta(hours=1)
#: The sweep's lease: renewed after every commit, so it runs out this long after a
#: worker holding it died, and another takes the sweep over.
SWEEP_HOLD = timedelta(seconds=15)
#: Forgotten content ids are remembered this long, for rows queued before the forget.
FORGETS_KEPT = timedelta(days=1)


def default_owner() -> str:
    """A name for this worker in leases: host and process id."""
    return f"{socket.gethostname()}:{os.getpid()}"


@dataclass(slots=True)
class Round:
    """What one round of duties did."""

    feeds: list[SyncReport] = field(default_factory=list)
    webhooks: Sent = field(default_factory=Sent)
    sweep: SweepRound | None = None
    purged: Purged | None = None


class Worker:
    """Runs the duties; `hashwall worker` and the tests drive it."""

    def __init__(
        self,
        settings: Settings,
        sessions: Callable[[], Session],
        feeds: FeedRunner,
        http: httpx.Client,
        owner: str | None = None,
        now: Callable[[], datetime] = utcnow,
        stop: threading.Event | None = None,
        sweeper: Sweeper | None = None,
    ) -> None:
        self.settings = settings
        self.sessions = sessions
        self.feeds = feeds
        self.http = http
        self.owner = owner or default_owner()
        self.now = now
        self.stop = stop or feeds.stop
        self.sweeper = sweeper

    def _take(self, name: str, hold: timedelta) -> bool:
        with self.sessions() as session, session.begin():
            return leases.take(session, name, self.owner, self.now(), hold)

    def sync_feeds(self) -> list[SyncReport]:
        """Sync each enabled feed that is due and that no other worker holds."""
        with self.sessions() as session:
            due = [(f.name, f.interval_seconds) for f in feed_store.list_feeds(session, True)]
        reports = []
        for name, interval in due:
            if self.stop.is_set():
                break
            lease = f"feed:{name}"
            if not self._take(lease, SYNC_HOLD):
                continue
            reports.append(self.feeds.sync(name))
            with self.sessions() as session, session.begin():
                leases.hold_until(
                    session, lease, self.owner, self.now() + timedelta(seconds=interval)
                )
        return reports

    def send_webhooks(self) -> Sent:
        """Send every webhook delivery that is due."""
        lease = lease_for(self.settings.webhook_timeout)
        return send_due(self.sessions, self.http, self.now, lease)

    def sweep(self) -> SweepRound | None:
        """Sweep the ledger for the hashes that arrived, if this worker holds the sweep."""
        if self.sweeper is None:
            return None

        def renew() -> bool:
            with self.sessions() as session, session.begin():
                return leases.keep(session, "sweep", self.owner, self.now(), SWEEP_HOLD)

        if not renew():
            self.sweeper.stop()  # another worker sweeps: its indexes are not needed here
            return None
        try:
            return self.sweeper.step(renew)
        except Exception:
            # What is in memory may be ahead of what was committed: start again from
            # the database and the last snapshot, next round; the other duties go on.
            log.exception("sweep failed")
            self.sweeper.stop(snapshot=False)
            return None

    def purge(self) -> Purged | None:
        """Purge what is past its retention, at most once an hour across workers."""
        if not self._take("retention", RETENTION_EVERY):
            return None
        with self.sessions() as session, session.begin():
            purged = purge(
                session,
                self.now(),
                self.settings.verdict_log_retention_days,
                self.settings.review_retention_days,
            )
        ledger_rows = 0
        with self.sessions() as session, session.begin():
            ledger_store.purge_forgets(session, self.now() - FORGETS_KEPT)
        days = self.settings.ledger_days
        # With the ledger off, what it still holds goes too.
        before = self.now() - timedelta(days=days) if days else None
        while True:
            with self.sessions() as session, session.begin():
                gone = ledger_store.purge(session, before)
            ledger_rows += len(gone)
            if self.sweeper is not None:
                self.sweeper.forget(gone)
            if len(gone) < ledger_store.PURGE_PAGE:
                break
        log.info("retention purge", extra={**asdict(purged), "ledger": ledger_rows})
        return replace(purged, ledger=ledger_rows)

    def run_once(self) -> Round:
        """Every duty once."""
        done = Round()
        done.feeds = self.sync_feeds()
        done.sweep = self.sweep()
        done.webhooks = self.send_webhooks()
        done.purged = self.purge()
        return done

    def close(self) -> None:
        """Snapshot what the sweep holds before the process ends."""
        if self.sweeper is not None:
            self.sweeper.stop()

    def follow(self, tick: float = 1.0) -> None:
        """Run the duties every `tick` seconds until `stop` is set."""
        while not self.stop.is_set():
            try:
                self.run_once()
            except Exception:
                # A database outage must not end the worker: it tries again next tick.
                log.exception("worker round failed")
            self.stop.wait(tick)
        self.close()
