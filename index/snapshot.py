"""A snapshot file of named numpy arrays that loads by memory-mapping, not by reading.

Layout: the magic line, the length of a JSON header (8 bytes, little-endian), the header
(free-form metadata and, per array, its dtype, shape and offset), then each array's raw
bytes at a page-aligned offset. Loading maps every array copy-on-write: a 10M-code index
is ready as soon as its header is parsed, pages come in from the page cache as searches
touch them, and writes (removals clearing an alive flag) stay private to the process.

Files are written to a temporary name, synced and renamed, so a reader never sees half a
snapshot and a crash mid-save leaves the previous one in place.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

MAGIC = b"HASHWALL-INDEX-SNAPSHOT 1\n"
ALIGN = 4096


class SnapshotError(ValueError):
    """The file is not a snapshot this version can read."""


def _aligned(offset: int) -> int:
    return -(-offset // ALIGN) * ALIGN


def write(path: Path, meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
    """Write `arrays` and the JSON-serialisable `meta` to `path`, atomically."""
    path = Path(path)
    layout: dict[str, dict[str, Any]] = {}
    header_room = 0
    while True:
        offset = _aligned(len(MAGIC) + 8 + header_room)
        for name, array in arrays.items():
            layout[name] = {"dtype": array.dtype.str, "shape": list(array.shape), "offset": offset}
            offset = _aligned(offset + array.nbytes)
        header = json.dumps({"meta": meta, "arrays": layout}).encode()
        if len(header) <= header_room:
            break
        header_room = len(header) + 256
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(temporary, "wb") as f:
            f.write(MAGIC + len(header).to_bytes(8, "little") + header)
            for name, array in arrays.items():
                f.seek(layout[name]["offset"])
                f.write(np.ascontiguousarray(array).data)
            f.truncate(offset)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def read(path: Path) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """The metadata and the arrays of a snapshot, memory-mapped copy-on-write."""
    path = Path(path)
    with open(path, "rb") as f:
        if f.read(len(MAGIC)) != MAGIC:
            raise SnapshotError(f"{path} is not a hashwall index snapshot")
        length = int.from_bytes(f.read(8), "little")
        try:
            header = json.loads(f.read(length))
        except ValueError as exc:
            raise SnapshotError(f"{path} has a corrupt header") from exc
    size = path.stat().st_size
    arrays: dict[str, np.ndarray] = {}
    for name, spec in header["arrays"].items():
        dtype, shape = np.dtype(spec["dtype"]), tuple(spec["shape"])
        nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
        if spec["offset"] + nbytes > size:
            raise SnapshotError(f"{path} is truncated")
        if nbytes == 0:
            arrays[name] = np.zeros(shape, dtype=dtype)
        else:
            offset = spec["offset"]
            arrays[name] = np.memmap(path, dtype=dtype, mode="c", offset=offset, shape=shape)
    return header["meta"], arrays
