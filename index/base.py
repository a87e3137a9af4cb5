"""The one interface every index backend implements.

Batches in, batches out, as faiss does: codes are `uint8` arrays of shape
(n, code_bytes), ids are `int64`. `search` takes an inclusive radius (a hash at
exactly the threshold matches) and returns, for each query, the ids and distances
within it sorted by distance then id. Backends convert to their own conventions
(faiss's `range_search` keeps `distance < radius`) inside, in one place.

Backends must be safe to search from many threads while another thread adds or
removes; they take the `RWLock` below for that.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, Self

import numpy as np


@dataclass(frozen=True, slots=True)
class Hits:
    """The matches of one query: parallel arrays sorted by (distance, id)."""

    ids: np.ndarray
    distances: np.ndarray

    def pairs(self) -> list[tuple[int, int]]:
        """The hits as (id, distance) tuples."""
        return list(zip(self.ids.tolist(), self.distances.tolist(), strict=True))


class HashIndex(Protocol):
    """An index of binary codes, searched by Hamming radius."""

    code_bytes: int

    def add(self, ids: np.ndarray, codes: np.ndarray) -> None:
        """Add codes under non-negative ids; an id already present has its code replaced."""

    def remove(self, ids: np.ndarray) -> int:
        """Remove ids (unknown ones are ignored); return how many were removed."""

    def search(self, codes: np.ndarray, radius: int) -> list[Hits]:
        """For each query code, every stored id within `radius` bits, inclusive."""

    def __len__(self) -> int: ...

    def save(self, path: Path) -> None:
        """Write the index to `path`."""

    @classmethod
    def load(cls, path: Path) -> Self:
        """Read an index written by `save`."""


def codes_from_bytes(values: Sequence[bytes], code_bytes: int) -> np.ndarray:
    """Stack equal-length codes into a (n, code_bytes) uint8 array."""
    if not values:
        return np.empty((0, code_bytes), dtype=np.uint8)
    array = np.frombuffer(b"".join(values), dtype=np.uint8)
    if array.size != len(values) * code_bytes:
        raise ValueError(f"every code must be {code_bytes} bytes")
    return array.reshape(len(values), code_bytes)


def grow_to_fit(array: np.ndarray, ids: np.ndarray, fill: object) -> np.ndarray:
    """`array`, indexed by id, grown by doubling to hold every id in `ids`; new slots `fill`."""
    needed = int(ids.max()) + 1 if len(ids) else 0
    if needed <= len(array):
        return array
    grown = np.full(max(needed, 2 * len(array)), fill, dtype=array.dtype)
    grown[: len(array)] = array
    return grown


def check_batch(
    ids: np.ndarray, codes: np.ndarray, code_bytes: int
) -> tuple[np.ndarray, np.ndarray]:
    """Validate and normalise an add batch."""
    ids = np.ascontiguousarray(ids, dtype=np.int64).reshape(-1)
    codes = np.ascontiguousarray(codes, dtype=np.uint8)
    if codes.ndim != 2 or codes.shape[1] != code_bytes:
        raise ValueError(f"codes must have shape (n, {code_bytes})")
    if len(ids) != len(codes):
        raise ValueError("ids and codes differ in length")
    if len(np.unique(ids)) != len(ids):
        raise ValueError("ids in one batch must be distinct")
    if len(ids) and ids.min() < 0:
        raise ValueError("ids must be non-negative")
    return ids, codes


def check_queries(codes: np.ndarray, code_bytes: int, radius: int) -> np.ndarray:
    """Validate and normalise a search batch."""
    codes = np.ascontiguousarray(codes, dtype=np.uint8)
    if codes.ndim != 2 or codes.shape[1] != code_bytes:
        raise ValueError(f"query codes must have shape (n, {code_bytes})")
    if radius < 0:
        raise ValueError("radius must be at least 0")
    return codes


def sort_hits(ids: np.ndarray, distances: np.ndarray) -> Hits:
    """Order one query's hits by distance, then id, so results are deterministic."""
    order = np.lexsort((ids, distances))
    return Hits(ids[order].astype(np.int64), distances[order].astype(np.int32))


class RWLock:
    """Many readers or one writer. Writers are preferred so updates are never starved."""

    def __init__(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._readers = 0
        self._writer = False
        self._waiting_writers = 0

    @contextmanager
    def read(self) -> Iterator[None]:
        """Hold the lock shared."""
        with self._cond:
            while self._writer or self._waiting_writers:
                self._cond.wait()
            self._readers += 1
        try:
            yield
        finally:
            with self._cond:
                self._readers -= 1
                if not self._readers:
                    self._cond.notify_all()

    @contextmanager
    def write(self) -> Iterator[None]:
        """Hold the lock exclusively."""
        with self._cond:
            self._waiting_writers += 1
            while self._writer or self._readers:
                self._cond.wait()
            self._waiting_writers -= 1
            self._writer = True
        try:
            yield
        finally:
            with self._cond:
                self._writer = False
                self._cond.notify_all()
