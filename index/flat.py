"""faiss `IndexBinaryFlat` behind the hashwall interface: exact, a full scan per query.

faiss keeps positions, not ids, and its binary `range_search` keeps `distance < radius`;
this class wraps the flat index in an `IndexBinaryIDMap2` for ids and removal and turns
the inclusive radius into faiss's exclusive one here and nowhere else. Scanning every code
costs about a millisecond per query at a million hashes; the multi-index backend is the
fast path, this one the simple, well-known baseline.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Self

import numpy as np

from index.base import Hits, RWLock, check_batch, check_queries, grow_to_fit, sort_hits

if TYPE_CHECKING:
    import faiss


def _faiss() -> Any:
    """faiss, imported when a flat index is first made: a server on the default
    multi-index backend never loads it (about 37 MB)."""
    import faiss

    return faiss


class FlatIndex:
    """Exhaustive Hamming search with faiss."""

    def __init__(
        self,
        code_bytes: int,
        radius: int | None = None,
        *,
        _index: faiss.IndexBinaryIDMap2 | None = None,
    ) -> None:
        # `radius` is accepted as every perceptual backend takes it; a scan needs no layout.
        self.code_bytes = code_bytes
        # Any: faiss's SWIG signatures hide the numpy-accepting wrappers it installs at import.
        faiss = _faiss()
        self._index: Any = _index or faiss.IndexBinaryIDMap2(faiss.IndexBinaryFlat(code_bytes * 8))
        self._lock = RWLock()
        # faiss's removal scans every stored code, so it is only called for ids known to
        # be present; this bitmap (indexed by id) knows which are.
        self._present = np.zeros(0, dtype=bool)
        if _index is not None and _index.ntotal:
            self._mark(faiss.vector_to_array(_index.id_map).astype(np.int64), True)

    def _mark(self, ids: np.ndarray, present: bool) -> None:
        if present:
            self._present = grow_to_fit(self._present, ids, False)
        self._present[ids] = present

    def _which_present(self, ids: np.ndarray) -> np.ndarray:
        known = ids < len(self._present)
        present = np.zeros(len(ids), dtype=bool)
        present[known] = self._present[ids[known]]
        return present

    def add(self, ids: np.ndarray, codes: np.ndarray) -> None:
        ids, codes = check_batch(ids, codes, self.code_bytes)
        with self._lock.write():
            # faiss's id map keeps duplicate ids; replacing means removing first.
            replaced = ids[self._which_present(ids)]
            if len(replaced):
                self._index.remove_ids(replaced)
            self._index.add_with_ids(codes, ids)
            self._mark(ids, True)

    def remove(self, ids: np.ndarray) -> int:
        ids = np.unique(np.ascontiguousarray(ids, dtype=np.int64).reshape(-1))
        ids = ids[ids >= 0]
        with self._lock.write():
            present = ids[self._which_present(ids)]
            if not len(present):
                return 0
            self._mark(present, False)
            return int(self._index.remove_ids(present))

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
            _faiss().write_index_binary(self._index, str(path))

    @classmethod
    def load(cls, path: Path) -> Self:
        faiss = _faiss()
        index = faiss.read_index_binary(str(path))
        if not isinstance(index, faiss.IndexBinaryIDMap2):
            raise ValueError(f"{path} is not a hashwall flat index")
        return cls(index.d // 8, _index=index)
