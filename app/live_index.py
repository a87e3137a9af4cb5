"""The in-memory state a matching process answers from.

One index per signal type holds the codes of every active hash; a compact catalogue
(numpy arrays indexed by hash id, a few bytes a hash instead of a Python object each)
says which bank a hash is in and its quality; bank policies are a small dict replaced
whole on change, so readers never see half an update. Writes through the API update
this state in place, right after their transaction commits: never a rebuild.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import Bank, HashRecord
from app.policy import DEFAULT_THRESHOLDS, Action, BankPolicy, Candidate, Thresholds
from index import ExactIndex, HashIndex, MIHIndex, codes_from_bytes
from index.base import grow_to_fit
from matcher.signals import Registry

log = logging.getLogger(__name__)

LOAD_CHUNK = 50_000
SYNC_CHUNK = 1000
NO_QUALITY = -1


class PerceptualBackend(Protocol):
    """An index class for pdq and phash (MIHIndex, FlatIndex): made from the code width and
    the radius searched most often (None: the backend's default), or loaded from a file."""

    def __call__(self, code_bytes: int, radius: int | None = None) -> HashIndex: ...

    def load(self, path: Path) -> HashIndex: ...


def default_radius(signal_type: str) -> int | None:
    """The widest distance the default policy searches a signal type at."""
    thresholds = DEFAULT_THRESHOLDS.get(signal_type)
    return thresholds.review if thresholds else None


#: The columns of a `StoredHash`.
STORED_COLUMNS = (
    HashRecord.id,
    HashRecord.bank_id,
    HashRecord.signal_type,
    HashRecord.value,
    HashRecord.quality,
    HashRecord.confirmed,
)


@dataclass(frozen=True, slots=True)
class StoredHash:
    """What the live index keeps of one active hash."""

    id: int
    bank_id: int
    signal_type: str
    value: str
    quality: int | None
    confirmed: bool = True


def bank_policy(bank: Bank) -> BankPolicy:
    """The policy view of a bank row."""
    return BankPolicy(
        id=bank.id,
        name=bank.name,
        action=Action(bank.action),
        enabled=bank.enabled,
        thresholds={
            signal: Thresholds(int(limits["match"]), int(limits["review"]))
            for signal, limits in (bank.thresholds or {}).items()
        },
    )


class Catalogue:
    """Bank, quality and confirmation of each indexed hash, in arrays grown by doubling."""

    def __init__(self) -> None:
        self._bank = np.zeros(1024, dtype=np.int32)
        self._quality = np.full(1024, NO_QUALITY, dtype=np.int16)
        self._unconfirmed = np.zeros(1024, dtype=np.bool_)
        self._lock = threading.Lock()

    def set(
        self, ids: np.ndarray, banks: np.ndarray, qualities: np.ndarray, unconfirmed: np.ndarray
    ) -> None:
        """Record bank, quality (NO_QUALITY for none) and unconfirmed flags for ids."""
        if not len(ids):
            return
        with self._lock:
            self._bank = grow_to_fit(self._bank, ids, 0)
            self._quality = grow_to_fit(self._quality, ids, NO_QUALITY)
            self._unconfirmed = grow_to_fit(self._unconfirmed, ids, False)
            self._bank[ids] = banks
            self._quality[ids] = qualities
            self._unconfirmed[ids] = unconfirmed

    def confirm(self, ids: np.ndarray) -> None:
        """Mark indexed hashes confirmed (a moderator said so)."""
        with self._lock:
            known = ids[ids < len(self._unconfirmed)]
            self._unconfirmed[known] = False

    def save(self, path: Path) -> None:
        """Write the arrays to `path` (npz)."""
        with self._lock, open(path, "wb") as f:
            np.savez(f, bank=self._bank, quality=self._quality, unconfirmed=self._unconfirmed)

    def load(self, path: Path) -> None:
        """Replace the arrays with those `save` wrote."""
        with np.load(path) as data:
            bank, quality = data["bank"], data["quality"]
            # Snapshots written before feeds existed hold only confirmed hashes.
            unconfirmed = (
                data["unconfirmed"] if "unconfirmed" in data else np.zeros(len(bank), np.bool_)
            )
        with self._lock:
            self._bank, self._quality, self._unconfirmed = bank, quality, unconfirmed

    def lookup(self, hash_id: int) -> tuple[int, int | None, bool]:
        """(bank id, quality or None, confirmed) of an indexed hash."""
        quality = int(self._quality[hash_id])
        return (
            int(self._bank[hash_id]),
            None if quality == NO_QUALITY else quality,
            not self._unconfirmed[hash_id],
        )


class LiveIndex:
    """Indexes, catalogue and bank policies for every signal type of a registry."""

    def __init__(self, registry: Registry, perceptual: PerceptualBackend = MIHIndex) -> None:
        self.registry = registry
        self.perceptual = perceptual
        self.reset()

    def reset(self) -> None:
        """Empty indexes, catalogue and bank policies."""
        registry, perceptual = self.registry, self.perceptual
        # A perceptual index is laid out for the radius searched most: the signal's widest
        # default distance (banks may set others; every radius stays exact).
        self.indexes: dict[str, HashIndex] = {
            t.name: (
                perceptual(t.code_bytes, default_radius(t.name))
                if t.perceptual
                else ExactIndex(t.code_bytes)
            )
            for t in registry
        }
        self.catalogue = Catalogue()
        self.banks: Mapping[int, BankPolicy] = {}
        self.loaded = False

    def load(self, session: Session) -> None:
        """Fill the indexes from every active hash in the database."""
        self.refresh_banks(session)
        active = select(*STORED_COLUMNS).where(HashRecord.status == "active")
        rows = session.execute(active.execution_options(yield_per=LOAD_CHUNK))
        total = 0
        for chunk in rows.partitions():
            batch = [StoredHash(*row) for row in chunk]
            self.add(batch)
            total += len(batch)
        self.loaded = True
        log.info("index loaded", extra={"hashes": total, "sizes": self.sizes()})

    def refresh_banks(self, session: Session) -> None:
        """Reload bank policies (after a bank is created, changed or deleted)."""
        self.banks = {bank.id: bank_policy(bank) for bank in session.scalars(select(Bank))}

    def add(self, hashes: Iterable[StoredHash]) -> None:
        """Index active hashes (replacing any code already under the same id)."""
        by_type: dict[str, list[StoredHash]] = {}
        for stored in hashes:
            by_type.setdefault(stored.signal_type, []).append(stored)
        for signal_name, group in by_type.items():
            signal_type = self.registry.get(signal_name)
            ids = np.fromiter((h.id for h in group), dtype=np.int64, count=len(group))
            codes = codes_from_bytes(
                [bytes.fromhex(h.value) for h in group], signal_type.code_bytes
            )
            self.catalogue.set(
                ids,
                np.fromiter((h.bank_id for h in group), dtype=np.int32, count=len(group)),
                np.fromiter(
                    (NO_QUALITY if h.quality is None else h.quality for h in group),
                    dtype=np.int16,
                    count=len(group),
                ),
                np.fromiter((not h.confirmed for h in group), dtype=np.bool_, count=len(group)),
            )
            self.indexes[signal_name].add(ids, codes)

    def remove(self, signal_type: str, ids: Iterable[int]) -> int:
        """Stop matching hashes of one signal type."""
        return self.indexes[signal_type].remove(np.fromiter(ids, dtype=np.int64))

    def sync(self, session: Session, hash_ids: Sequence[int]) -> None:
        """Bring these hashes in line with the database: index the active ones, drop the
        rest (withdrawn, deleted, or gone with their bank) from every index."""
        active: list[StoredHash] = []
        for start in range(0, len(hash_ids), SYNC_CHUNK):
            chunk = hash_ids[start : start + SYNC_CHUNK]
            # Status is filtered here, not in SQL: with statistics stale after a bulk load,
            # PostgreSQL planned `status = 'active' AND id IN (...)` as a scan of every
            # active hash (145 ms a chunk at 1M) instead of primary key lookups.
            rows = session.execute(
                select(*STORED_COLUMNS, HashRecord.status).where(HashRecord.id.in_(chunk))
            )
            active.extend(StoredHash(*row[:-1]) for row in rows if row[-1] == "active")
        kept = {stored.id for stored in active}
        gone = np.fromiter((i for i in hash_ids if i not in kept), dtype=np.int64)
        if len(gone):
            for index in self.indexes.values():
                index.remove(gone)
        self.add(active)

    def search(self, signal_type: str, codes: list[bytes], radius: int) -> list[list[Candidate]]:
        """Candidates within `radius` of each query code."""
        code_bytes = self.registry.get(signal_type).code_bytes
        hits = self.indexes[signal_type].search(codes_from_bytes(codes, code_bytes), radius)
        results = []
        for query_hits in hits:
            candidates = []
            for hash_id, distance in query_hits.pairs():
                bank_id, quality, confirmed = self.catalogue.lookup(hash_id)
                candidates.append(
                    Candidate(hash_id, bank_id, signal_type, distance, quality, confirmed)
                )
            results.append(candidates)
        return results

    def loaders(self) -> dict[str, Callable[[Path], HashIndex]]:
        """How each signal type's index is read back from a snapshot file."""
        return {
            t.name: self.perceptual.load if t.perceptual else ExactIndex.load for t in self.registry
        }

    def sizes(self) -> dict[str, int]:
        """Indexed hashes per signal type."""
        return {name: len(index) for name, index in self.indexes.items()}
