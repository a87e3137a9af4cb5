"""faiss `IndexBinaryFlat` behind the hashwall interface: exact, a full scan per query.

faiss keeps positions, not ids, and its binary `range_search` keeps `distance < radius`;
this class wraps the flat index in an `IndexBinaryIDMap2` for ids and removal and turns
the inclusive radius into faiss's exclusive one here and nowhere else. Scanning every code
costs about a millisecond per query at a million hashes; the multi-index backend is the
fast path, this one the simple, well-known baseline.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Self

import faiss
import numpy as np

from index.base import Hits, RWLock, check_batch, check_queries, sort_hits


class FlatIndex:
    """Exhaustive Hamming search with faiss."""

    def __init__(self, code_bytes: int, _index: faiss.IndexBinaryIDMap2 | None = None) -> None:
        self.code_bytes = code_bytes
        # Any: faiss's SWIG signatures hide the numpy-accepting wrappers it installs at import.
        self._index: Any = _index or faiss.IndexBinaryIDMap2(faiss.IndexBinaryFlat(code_bytes * 8))
        self._lock = RWLock()

    def add(self, ids: np.ndarray, codes: np.ndarray) -> None:
        ids, codes = check_batch(ids, codes, self.code_bytes)
        with self._lock.write():
            # faiss's id map keeps duplicate ids; replacing means removing first.
            self._index.remove_ids(ids)
            self._index.add_with_ids(codes, ids)

    def remove(self, ids: np.ndarray) -> int:
        ids = np.ascontiguousarray(ids, dtype=np.int64).reshape(-1)
        if not len(ids):
            return 0
        with self._lock.write():
            return int(self._index.remove_ids(ids))

    def search(self, codes: np.ndarray, radius: int) -> list[Hits]:
        codes = check_queries(codes, self.code_bytes, radius)
        if not len(codes):
            return []
        with self._lock.read():
            lims, distances, ids = self._index.range_search(codes, radius + 1)
        return [
            sort_hits(ids[lims[i] : lims[i + 1]], distances[lims[i] : lims[i + 1]])
            for i in range(len(codes))
        ]

    def __len__(self) -> int:
        return int(self._index.ntotal)

    def save(self, path: Path) -> None:
        with self._lock.read():
            faiss.write_index_binary(self._index, str(path))

    @classmethod
    def load(cls, path: Path) -> Self:
        index = faiss.read_index_binary(str(path))
        if not isinstance(index, faiss.IndexBinaryIDMap2):
            raise ValueError(f"{path} is not a hashwall flat index")
        return cls(index.d // 8, index)
