"""The ledger's hashes in memory, for the sweep: the same indexes as the banks' (a
`LiveIndex` of `HashIndex` backends), keyed by ledger row id instead of hash id.

It lives in the worker that holds the sweep's lease, never in a serving process. It
follows the ledger by row id, and is snapshotted beside the banks' snapshots, so a
restarted worker reads only the rows recorded since.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from pathlib import Path

from app import snapshots
from app.ledger.store import Entry
from app.live_index import LiveIndex, PerceptualBackend, StoredHash
from index import codes_from_bytes
from matcher.signals import Registry

log = logging.getLogger(__name__)

#: The bank id ledger rows are indexed under (they are in no bank).
NO_BANK = 0


class LedgerIndex:
    """Recorded upload hashes, searched by the hashes that arrive later."""

    def __init__(self, registry: Registry, perceptual: PerceptualBackend) -> None:
        self.registry = registry
        self.live = LiveIndex(registry, perceptual)
        #: The newest ledger row id indexed.
        self.cursor = 0

    def add(self, entries: Sequence[Entry]) -> None:
        """Index recorded rows (of the signal types this registry knows)."""
        known = {t.name: t for t in self.registry}
        stored = []
        for entry in entries:
            signal_type = known.get(entry.signal_type)
            if signal_type is None:
                continue
            frames = signal_type.parse_frames(entry.value) if signal_type.sequence else None
            stored.append(
                StoredHash(
                    entry.id,
                    NO_BANK,
                    entry.signal_type,
                    entry.value,
                    entry.quality,
                    frames=frames,
                )
            )
        self.live.add(stored)
        if entries:
            self.cursor = max(self.cursor, max(entry.id for entry in entries))

    def remove(self, row_ids: Iterable[int]) -> None:
        """Stop finding these rows (forgotten or purged)."""
        ids = list(row_ids)
        if ids:
            for name in self.live.indexes:
                self.live.remove(name, ids)

    def search(self, signal_type: str, codes: Sequence[bytes], radius: int) -> set[int]:
        """Ids of the rows of `signal_type` within `radius` of any of `codes`."""
        index = self.live.indexes.get(signal_type)
        if index is None or not codes or not len(index):
            return set()
        queries = codes_from_bytes(list(codes), self.registry.get(signal_type).code_bytes)
        found: set[int] = set()
        for hits in index.search(queries, radius):
            found.update(hits.ids.tolist())
        return found

    def search_videos(self, stored: StoredHash, radius: int) -> set[int]:
        """Ids of the recorded videos with a frame within `radius` of one of a banked
        video's frames (the policy then counts the shares)."""
        if stored.frames is None or stored.signal_type not in self.live.indexes:
            return set()
        return {
            c.hash_id for c in self.live.search_video(stored.signal_type, stored.frames, radius)
        }

    def flush(self) -> None:
        """Merge freshly added codes into the indexes' built parts now: after a bulk load
        they sit in a tail every search scans, and background merges would rebuild the
        whole index again and again meanwhile."""
        flush_indexes(self.live)

    def __len__(self) -> int:
        return sum(self.live.sizes().values())

    def save(self, directory: Path, backend: str) -> Path:
        """Snapshot the index at its cursor into `directory`."""
        return snapshots.write(self.live, directory, self.cursor, backend)

    def load(self, directory: Path, backend: str) -> bool:
        """Fill the index from the newest snapshot in `directory`; False if none."""
        seq = snapshots.load_newest(self.live, directory, backend, self.live.loaders())
        if seq is None:
            return False
        self.cursor = seq
        return True


def flush_indexes(live: LiveIndex) -> None:
    """Merge what every index of `live` holds in its tail (backends that have one)."""
    for index in [*live.indexes.values(), live.image_parts.index]:
        flush = getattr(index, "flush", None)
        if callable(flush):
            flush()
