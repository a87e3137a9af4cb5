"""The takedown sweep: when hashes become active in an enabled block or review bank,
find the uploads already recorded in the ledger that they match, and tell the platform.

The worker holding the `sweep` lease runs it. It keeps two indexes: the banks' (a
`LiveIndex` following the change log, as a server's does) and the ledger's
(`LedgerIndex`, following the ledger by row id). Each change of hashes is swept twice:
first within the banks' match distances, which is fast and finds every block, then out
to their review distances. A sweep is in two steps:

1. the change's active hashes (and the parts of images banked from media) are searched
   in the ledger's index, which names recorded uploads that could match;
2. each such upload's recorded hashes are matched against the banks' index with the
   very policy an upload gets (thresholds, quality rules, allow banks, candidates within
   `match` only, videos by their share of frames), and the matches of the change's
   hashes are its hits.

An upload whose verdict was given after the change (its `seen_seq`) was matched against
the hash already, and is left out. One recorded after the change was swept, but whose
verdict came before the change reached its server, is checked when the ledger's index
takes it in. Hits, events and the cursors are committed together (`app.ledger.hits`).
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from app.config import Settings
from app.ledger import hits as hit_store
from app.ledger import store as ledger_store
from app.ledger.index import LedgerIndex, flush_indexes
from app.ledger.judge import judge, recordings
from app.ledger.store import Entry
from app.live_index import PERCEPTUAL_INDEXES, STORED_COLUMNS, LiveIndex, StoredHash
from app.models import HashRecord, SweepState, utcnow
from app.policy import Action, match_radius, search_radius
from app.replica import ChangeFollower, restore_index
from app.store import changes
from app.store.frames import attach_stored
from matcher.signals import Registry

log = logging.getLogger(__name__)

#: Ledger rows read per query while following the ledger.
LEDGER_PAGE = 50_000
#: A round that took in this many rows (a start from the database) merges the ledger's
#: index at once.
BULK_ROWS = 100_000
#: Changes read at a time by the match pass (each is committed on its own).
CHANGE_PAGE = 20
#: Seconds a round goes on sweeping a backlog for blocks before it lets the worker's
#: other duties run.
ROUND_BUDGET = 5.0
#: Hash ids per `IN (...)` list.
CHUNK = 1000
#: The ledger's index is snapshotted this often (seconds) when it changed.
SNAPSHOT_EVERY = 300.0
MATCH, REVIEW = "match", "review"


@dataclass(slots=True)
class SweepRound:
    """What one round of the sweep did."""

    rows_indexed: int = 0
    changes: int = 0
    hashes_swept: int = 0
    hits: int = 0
    contents: int = 0
    events: int = 0


class Sweeper:
    """The sweep's state in the worker: both indexes and the step that moves them on."""

    def __init__(
        self,
        settings: Settings,
        engine: Engine,
        sessions: sessionmaker[Session],
        registry: Registry,
        now: Callable[[], datetime] = utcnow,
    ) -> None:
        self.settings = settings
        self.sessions = sessions
        self.registry = registry
        self.now = now
        perceptual = PERCEPTUAL_INDEXES[settings.index_backend]
        self.banks = LiveIndex(registry, perceptual)
        self.follower = ChangeFollower(engine, sessions, self.banks, settings.sync_interval)
        self.ledger = LedgerIndex(registry, perceptual)
        self.ready = False
        self._snapshot_at = time.monotonic()
        self._snapshot_cursor = -1

    @property
    def snapshot_dir(self) -> Path | None:
        """Where the ledger index's snapshots go: beside the banks' snapshots."""
        directory = self.settings.snapshot_dir
        return directory / "ledger" if directory is not None else None

    def start(self) -> None:
        """Load both indexes: the banks' from their snapshot or the database, the ledger's
        from its snapshot; `step` reads the ledger rows recorded since."""
        self.banks.reset()
        self.ledger = LedgerIndex(self.registry, self.banks.perceptual)
        restore_index(self.settings, self.sessions, self.banks, self.follower)
        flush_indexes(self.banks)
        directory = self.snapshot_dir
        if directory is not None and self.ledger.load(directory, self.settings.index_backend):
            self._snapshot_cursor = self.ledger.cursor
        with self.sessions() as session, session.begin():
            state = hit_store.state(session)
            if self.ledger.cursor > state.ledger_seq:
                # A snapshot from another database, or ahead of what was checked.
                self.ledger = LedgerIndex(self.registry, self.banks.perceptual)
        self.ready = True
        log.info("sweep ready", extra={"ledger_rows": len(self.ledger), "bank": self.banks.sizes()})

    def stop(self, snapshot: bool = True) -> None:
        """Drop the indexes (the lease was lost, the worker stops, or a round failed and
        the in-memory state may be ahead of what was committed: then no `snapshot`)."""
        if not self.ready:
            return  # a worker without the lease asks each round: nothing is held
        if snapshot:
            self.snapshot(force=True)
        self.ready = False
        self.banks.reset()
        self.ledger = LedgerIndex(self.registry, self.banks.perceptual)

    def step(self, renew: Callable[[], bool] = lambda: True) -> SweepRound:
        """Index new ledger rows, then sweep the changes not yet swept; `renew` is called
        after each commit (the worker keeps its lease with it: False, lost, stops here)."""
        if not self.ready:
            self.start()
        self.follower.catch_up()
        done = SweepRound()
        self._follow_ledger(done)
        if not renew():
            return done
        # A backlog (a bulk import) is swept for blocks ROUND_BUDGET at a time, so the
        # worker sends their events, and syncs its feeds, between rounds.
        started = time.monotonic()
        while self._sweep_changes(done, MATCH, CHANGE_PAGE):
            if not renew() or time.monotonic() - started > ROUND_BUDGET:
                return done
        # The review band once every change is swept for blocks, one change a round (out
        # to 47 bits a search costs several times more), and not in a round that found
        # blocks: the worker sends their events first.
        if not done.changes:
            self._sweep_changes(done, REVIEW, 1)
        self.snapshot()
        return done

    def snapshot(self, force: bool = False) -> None:
        """Snapshot the ledger's index when it changed and it is time (or `force`)."""
        directory = self.snapshot_dir
        if directory is None or self.ledger.cursor == self._snapshot_cursor:
            return
        if not force and time.monotonic() - self._snapshot_at < SNAPSHOT_EVERY:
            return
        self.ledger.save(directory, self.settings.index_backend)
        self._snapshot_at, self._snapshot_cursor = time.monotonic(), self.ledger.cursor

    def forget(self, row_ids: Iterable[int]) -> None:
        """Rows purged or forgotten: drop them from the ledger's index."""
        if self.ready:
            self.ledger.remove(row_ids)

    # Following the ledger --------------------------------------------------------------

    def _follow_ledger(self, done: SweepRound) -> None:
        """Index the rows recorded since the last round. Those whose verdict came before
        a change already swept are checked against it now."""
        try:
            self._take_in_ledger(done)
        finally:
            if done.rows_indexed >= BULK_ROWS:
                self.ledger.flush()

    def _take_in_ledger(self, done: SweepRound) -> None:
        while True:
            with self.sessions() as session, session.begin():
                state = hit_store.state(session)
                rows = ledger_store.after(session, self.ledger.cursor, LEDGER_PAGE)
                if not rows:
                    return
                self.ledger.add(rows)
                done.rows_indexed += len(rows)
                late = [
                    r for r in rows if r.id > state.ledger_seq and r.seen_seq < state.change_seq
                ]
                found = self._late(session, late, state.change_seq)
                committed = hit_store.commit(session, found, self.now())
                state.ledger_seq = max(state.ledger_seq, self.ledger.cursor)
                self._count(state, done, committed, hashes=0)

    def _late(self, session: Session, late: Sequence[Entry], upto: int) -> list[hit_store.Found]:
        """Hits of rows whose verdict missed changes up to `upto`, already swept."""
        if not late:
            return []
        named: dict[int, int] = {}
        cursor = min(entry.seen_seq for entry in late)
        while cursor < upto:
            page = [c for c in changes.after(session, cursor, 200) if c.seq <= upto]
            if not page:
                break
            for change in page:
                if change.kind == changes.HASHES:
                    named.update(dict.fromkeys(change.hash_ids, change.seq))
            cursor = page[-1].seq
        checked = {entry.id for entry in late}
        by_content = ledger_store.entries_of(session, {entry.content_id for entry in late})
        uploads = [
            r
            for entries in by_content.values()
            for r in recordings(entries)
            if any(entry.id in checked for entry in r.entries)
        ]
        return judge(self.banks, uploads, named)

    # Sweeping changes ------------------------------------------------------------------

    def _sweep_changes(self, done: SweepRound, sweep_pass: str, limit: int) -> bool:
        """Sweep up to `limit` changes in one pass; False when there were none."""
        with self.sessions() as session:
            state = hit_store.state(session)
            cursor = state.review_seq if sweep_pass == REVIEW else state.change_seq
            # The match pass goes as far as the banks' index has applied; the review pass
            # as far as the match pass has.
            upto = state.change_seq if sweep_pass == REVIEW else self.follower.cursor
            page = [c for c in changes.after(session, cursor, limit) if c.seq <= upto]
        for change in page:
            started = time.perf_counter()
            found: list[hit_store.Found] = []
            swept = 0
            with self.sessions() as session, session.begin():
                targets: list[StoredHash] = []
                rows: set[int] = set()
                if change.kind == changes.HASHES:
                    targets = self._targets(session, change.hash_ids)
                    rows = self._candidates(targets, wide=sweep_pass == REVIEW)
                elif change.kind == changes.BANKS and sweep_pass == MATCH:
                    # A bank enabled again, or made a block or review bank: its hashes
                    # are new to the sweep, and swept out to the review distance at once.
                    targets = self._targets(session, self._newly_sweepable(session))
                    rows = self._candidates(targets, wide=False)
                    rows |= self._candidates(targets, wide=True)
                swept = len(targets)
                found = self._rows(
                    session, rows, dict.fromkeys((t.id for t in targets), change.seq)
                )
                committed = hit_store.commit(session, found, self.now())
                state = hit_store.state(session)
                if sweep_pass == REVIEW:
                    state.review_seq = max(state.review_seq, change.seq)
                else:
                    state.change_seq = max(state.change_seq, change.seq)
                if swept:
                    lag = (self.now() - change.created_at).total_seconds()
                    hit_store.observe_lag(state, sweep_pass, max(0.0, lag))
                    state.last_sweep_at = self.now()
                    state.last_sweep_seconds = time.perf_counter() - started
                self._count(state, done, committed, hashes=swept if sweep_pass == MATCH else 0)
            done.changes += 1
            if committed.hits:
                log.info(
                    "sweep found uploads",
                    extra={"pass": sweep_pass, "seq": change.seq, "hits": committed.hits},
                )
        return bool(page)

    @staticmethod
    def _count(
        state: SweepState, done: SweepRound, committed: hit_store.Committed, hashes: int
    ) -> None:
        state.hashes_swept += hashes
        state.contents_found += committed.contents
        done.hashes_swept += hashes
        done.hits += committed.hits
        done.contents += committed.contents
        done.events += committed.events

    def _newly_sweepable(self, session: Session) -> list[int]:
        """Active hashes of the banks that became enabled block or review banks since the
        sweep last looked; the state remembers the banks as they are now."""
        state = hit_store.state(session)
        now = hit_store.sweepable_banks(session)
        new = set(now) - set(state.banks or [])
        state.banks = now
        if not new:
            return []
        return list(
            session.scalars(
                select(HashRecord.id)
                .where(HashRecord.bank_id.in_(sorted(new)), HashRecord.status == "active")
                .order_by(HashRecord.id)
            )
        )

    def _targets(self, session: Session, hash_ids: Sequence[int]) -> list[StoredHash]:
        """Which of a change's hashes are active in an enabled block or review bank."""
        banks = self.banks.banks
        wanted = [
            bank.id
            for bank in banks.values()
            if bank.enabled and bank.action in (Action.BLOCK, Action.REVIEW)
        ]
        active: list[StoredHash] = []
        for start in range(0, len(hash_ids), CHUNK):
            rows = session.execute(
                select(*STORED_COLUMNS).where(
                    HashRecord.id.in_(hash_ids[start : start + CHUNK]),
                    HashRecord.status == "active",
                    HashRecord.bank_id.in_(wanted),
                )
            )
            active.extend(StoredHash(*row) for row in rows)
        return attach_stored(session, active, self.registry.sequences)

    def _candidates(self, targets: Sequence[StoredHash], wide: bool) -> set[int]:
        """Ledger rows that could match some target: within the banks' match distance,
        or (`wide`) out to their review distance, where the match pass did not reach."""
        banks = list(self.banks.banks.values())
        by_type: dict[str, list[StoredHash]] = defaultdict(list)
        for target in targets:
            by_type[target.signal_type].append(target)
        found: set[int] = set()
        for signal_type, group in by_type.items():
            near = match_radius(banks, signal_type)
            radius = search_radius(banks, signal_type) if wide else near
            if radius is None or (wide and radius == near):
                continue
            if self.registry.get(signal_type).sequence:
                for video in group:
                    found |= self.ledger.search_videos(video, radius)
                continue
            found |= self.ledger.search(
                signal_type, [bytes.fromhex(t.value) for t in group], radius
            )
            parts = [part.code for t in group for part in t.parts]
            if signal_type == "pdq" and parts and not wide and near is not None:
                # Parts count within the match distance only (policy rule 7).
                found |= self.ledger.search("pdq", parts, near)
        return found

    def _rows(
        self, session: Session, row_ids: set[int], targets: dict[int, int]
    ) -> list[hit_store.Found]:
        """Hits of the targets among the uploads these ledger rows belong to."""
        if not row_ids:
            return []
        contents = ledger_store.contents_of(session, row_ids)
        # Rows forgotten or purged since they were indexed.
        self.ledger.remove(row_ids - contents.keys())
        by_content = ledger_store.entries_of(session, set(contents.values()))
        uploads = [r for entries in by_content.values() for r in recordings(entries)]
        return judge(self.banks, uploads, targets)
