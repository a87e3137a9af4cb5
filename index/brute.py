"""Brute force with numpy popcount: slow, obviously right, the oracle of every index test."""

from __future__ import annotations

from pathlib import Path
from typing import Self

import numpy as np

from index.base import Hits, RWLock, check_batch, check_queries, sort_hits


def hamming(queries: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """All pairwise Hamming distances, shape (len(queries), len(codes))."""
    xor = np.bitwise_xor(queries[:, None, :], codes[None, :, :])
    return np.bitwise_count(xor).sum(axis=2, dtype=np.int32)


class BruteForceIndex:
    """Every query compared with every code."""

    def __init__(self, code_bytes: int) -> None:
        self.code_bytes = code_bytes
        self._ids = np.empty(0, dtype=np.int64)
        self._codes = np.empty((0, code_bytes), dtype=np.uint8)
        self._lock = RWLock()

    def add(self, ids: np.ndarray, codes: np.ndarray) -> None:
        ids, codes = check_batch(ids, codes, self.code_bytes)
        with self._lock.write():
            keep = ~np.isin(self._ids, ids)
            self._ids = np.concatenate([self._ids[keep], ids])
            self._codes = np.concatenate([self._codes[keep], codes])

    def remove(self, ids: np.ndarray) -> int:
        with self._lock.write():
            gone = np.isin(self._ids, np.asarray(ids, dtype=np.int64))
            self._ids, self._codes = self._ids[~gone], self._codes[~gone]
            return int(gone.sum())

    def search(self, codes: np.ndarray, radius: int) -> list[Hits]:
        codes = check_queries(codes, self.code_bytes, radius)
        with self._lock.read():
            distances = hamming(codes, self._codes)
            results = []
            for row in distances:
                within = row <= radius
                results.append(sort_hits(self._ids[within], row[within]))
            return results

    def __len__(self) -> int:
        return len(self._ids)

    def save(self, path: Path) -> None:
        with self._lock.read(), open(path, "wb") as f:
            np.savez(f, ids=self._ids, codes=self._codes)

    @classmethod
    def load(cls, path: Path) -> Self:
        with np.load(path) as data:
            index = cls(int(data["codes"].shape[1]))
            index.add(data["ids"], data["codes"])
        return index
