"""Snapshots of a live index, so a process restarting at 10M hashes is ready in seconds.

A snapshot is a folder `snapshot-<seq>` in the snapshot directory: each signal type's
index (`<signal>.index`, in its backend's own format; mih's is memory-mapped on load), the
catalogue, the video frames catalogue, and `meta.json` with the change-log sequence
number the snapshot includes and the index backend. It is written under a temporary
name and renamed, so a reader never sees half of one; the newest few are kept. A process
loads the newest snapshot of its backend and then applies the change log after its
sequence number.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from app.live_index import LiveIndex
from index import HashIndex

log = logging.getLogger(__name__)

PREFIX = "snapshot-"
META = "meta.json"
CATALOGUE = "catalogue.npz"
VIDEOS = "videos.npz"
#: Snapshots kept: the newest, and one before it for a process still mapping it.
KEEP = 2

#: Reads one signal type's index file back.
IndexLoader = Callable[[Path], HashIndex]


def _folders(directory: Path) -> list[Path]:
    if not directory.is_dir():
        return []
    return sorted(p for p in directory.iterdir() if p.name.startswith(PREFIX) and p.is_dir())


def write(live: LiveIndex, directory: Path, seq: int, backend: str) -> Path:
    """Snapshot `live`, which holds every change up to `seq`; return the snapshot's folder.

    The caller keeps `live` from changing meanwhile (the change follower's lock)."""
    directory.mkdir(parents=True, exist_ok=True)
    final = directory / f"{PREFIX}{seq:020d}"
    if final.exists():
        return final
    building = directory / f".{final.name}.{os.getpid()}.tmp"
    shutil.rmtree(building, ignore_errors=True)
    building.mkdir()
    try:
        for name, index in live.indexes.items():
            index.save(building / f"{name}.index")
        live.catalogue.save(building / CATALOGUE)
        live.videos.save(building / VIDEOS)
        live.image_parts.save(building)
        meta = {
            "seq": seq,
            "backend": backend,
            "signals": sorted(live.indexes),
            "sizes": live.sizes(),
            "created": datetime.now(UTC).isoformat(),
        }
        (building / META).write_text(json.dumps(meta))
        building.rename(final)
    finally:
        shutil.rmtree(building, ignore_errors=True)
    # Unlinking files another process has memory-mapped is safe: its mapping stays valid.
    for old in _folders(directory)[:-KEEP]:
        shutil.rmtree(old, ignore_errors=True)
    log.info("index snapshot written", extra={"seq": seq, "sizes": meta["sizes"]})
    return final


def load_newest(
    live: LiveIndex, directory: Path, backend: str, loaders: dict[str, IndexLoader]
) -> int | None:
    """Fill `live` from the newest usable snapshot; return its sequence number, or None
    when there is none for this backend and these signal types."""
    for folder in reversed(_folders(directory)):
        try:
            meta = json.loads((folder / META).read_text())
            if meta["backend"] != backend or meta["signals"] != sorted(live.indexes):
                continue
            indexes = {name: loaders[name](folder / f"{name}.index") for name in meta["signals"]}
            live.catalogue.load(folder / CATALOGUE)
            live.videos.load(folder / VIDEOS)
            live.image_parts.load(folder, loaders["pdq"])
        except (OSError, ValueError, KeyError):
            log.warning("unreadable index snapshot skipped", extra={"snapshot": folder.name})
            continue
        live.indexes.update(indexes)
        log.info("index snapshot loaded", extra={"seq": meta["seq"], "sizes": live.sizes()})
        return int(meta["seq"])
    return None
