"""Exact lookup for cryptographic digests (md5, sha256): a dict from code to ids.

Digests only ever match at distance zero, so any radius is treated as zero.
"""

from __future__ import annotations

from pathlib import Path
from typing import Self

import numpy as np

from index.base import Hits, RWLock, check_batch, check_queries, sort_hits


class ExactIndex:
    """Codes to the ids that hold them; a query finds only identical codes."""

    def __init__(self, code_bytes: int) -> None:
        self.code_bytes = code_bytes
        self._by_code: dict[bytes, set[int]] = {}
        self._by_id: dict[int, bytes] = {}
        self._lock = RWLock()

    def add(self, ids: np.ndarray, codes: np.ndarray) -> None:
        ids, codes = check_batch(ids, codes, self.code_bytes)
        with self._lock.write():
            for id_, row in zip(ids.tolist(), codes, strict=True):
                self._discard(id_)
                code = row.tobytes()
                self._by_id[id_] = code
                self._by_code.setdefault(code, set()).add(id_)

    def _discard(self, id_: int) -> bool:
        code = self._by_id.pop(id_, None)
        if code is None:
            return False
        holders = self._by_code[code]
        holders.discard(id_)
        if not holders:
            del self._by_code[code]
        return True

    def remove(self, ids: np.ndarray) -> int:
        with self._lock.write():
            return sum(self._discard(id_) for id_ in np.asarray(ids, dtype=np.int64).tolist())

    def search(self, codes: np.ndarray, radius: int) -> list[Hits]:
        codes = check_queries(codes, self.code_bytes, radius)
        results = []
        with self._lock.read():
            for row in codes:
                ids = np.array(sorted(self._by_code.get(row.tobytes(), ())), dtype=np.int64)
                results.append(sort_hits(ids, np.zeros(len(ids), dtype=np.int32)))
        return results

    def __len__(self) -> int:
        return len(self._by_id)

    def save(self, path: Path) -> None:
        with self._lock.read(), open(path, "wb") as f:
            ids = np.fromiter(self._by_id, dtype=np.int64, count=len(self._by_id))
            codes = np.frombuffer(b"".join(self._by_id.values()), dtype=np.uint8)
            np.savez(f, code_bytes=self.code_bytes, ids=ids, codes=codes)

    @classmethod
    def load(cls, path: Path) -> Self:
        with np.load(path) as data:
            code_bytes = int(data["code_bytes"])
            index = cls(code_bytes)
            index.add(data["ids"], data["codes"].reshape(-1, code_bytes))
        return index
