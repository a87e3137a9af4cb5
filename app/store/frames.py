"""What a banked hash matches by beyond its own code, written once with it: a video's
frames (vpdq hashes), an image's parts (banked from media; see `matcher.variants`)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import HashPartRecord, VideoFrameRecord
from app.store import insert_ignoring
from matcher.candidates import Variant
from matcher.video_hash import VideoFrame, VideoHash

if TYPE_CHECKING:
    from app.live_index import StoredHash

#: Hashes per IN (...) lookup.
LOOKUP_CHUNK = 500


def insert_frames(session: Session, videos: Mapping[int, VideoHash]) -> None:
    """Store the frames of banked videos, keyed by their hash row's id (once: frames
    already stored are kept)."""
    rows = [
        {
            "hash_id": hash_id,
            "position": position,
            "frame_number": frame.frame_number,
            "timestamp": frame.timestamp,
            "quality": frame.quality,
            "value": frame.code.hex(),
        }
        for hash_id, video in videos.items()
        for position, frame in enumerate(video.frames)
    ]
    _insert(session, VideoFrameRecord, rows)


def insert_parts(session: Session, images: Mapping[int, Sequence[Variant]]) -> None:
    """Store the parts of images banked from media, keyed by their hash row's id (once:
    parts already stored are kept)."""
    rows = [
        {
            "hash_id": hash_id,
            "position": position,
            "name": part.name,
            "quality": part.quality,
            "value": part.code.hex(),
        }
        for hash_id, parts in images.items()
        for position, part in enumerate(parts)
    ]
    _insert(session, HashPartRecord, rows)


def _insert(session: Session, table: Any, rows: list[dict[str, Any]]) -> None:
    statement = insert_ignoring(session, table, ["hash_id", "position"])
    for start in range(0, len(rows), LOOKUP_CHUNK):
        session.execute(statement, rows[start : start + LOOKUP_CHUNK])


def frames_of(session: Session, hash_ids: Iterable[int]) -> dict[int, VideoHash]:
    """The stored frames of these videos, in order; videos without frames are absent."""
    found: dict[int, list[VideoFrame]] = defaultdict(list)
    columns = ("frame_number", "timestamp", "quality", "value")
    for hash_id, number, timestamp, quality, value in _rows(
        session, VideoFrameRecord, columns, hash_ids
    ):
        found[hash_id].append(VideoFrame(number, timestamp, quality, bytes.fromhex(value)))
    return {hash_id: VideoHash(tuple(frames)) for hash_id, frames in found.items()}


def parts_of(session: Session, hash_ids: Iterable[int]) -> dict[int, tuple[Variant, ...]]:
    """The stored parts of these images, in order; images without parts are absent."""
    found: dict[int, list[Variant]] = defaultdict(list)
    for hash_id, name, quality, value in _rows(
        session, HashPartRecord, ("name", "quality", "value"), hash_ids
    ):
        found[hash_id].append(Variant(name, bytes.fromhex(value), quality))
    return {hash_id: tuple(parts) for hash_id, parts in found.items()}


def attach_stored(
    session: Session,
    hashes: list[StoredHash],
    sequences: Collection[str],
    with_parts: set[int] | None = None,
) -> list[StoredHash]:
    """`hashes` with what the database holds besides their rows: frames for the videos
    (of the `sequences` signal types) that came without them, parts for the pictures
    banked from media (those in `with_parts`, when the caller knows them)."""
    videos = [h.id for h in hashes if h.signal_type in sequences and h.frames is None]
    images = [
        h.id
        for h in hashes
        if h.signal_type == "pdq" and not h.parts and (with_parts is None or h.id in with_parts)
    ]
    frames = frames_of(session, videos) if videos else {}
    parts = parts_of(session, images) if images else {}
    if not frames and not parts:
        return hashes
    return [
        replace(h, frames=frames.get(h.id, h.frames), parts=parts.get(h.id, h.parts))
        if h.id in frames or h.id in parts
        else h
        for h in hashes
    ]


def owners_with_parts(session: Session) -> set[int]:
    """Ids of every hash that has stored parts (few: only images banked from media)."""
    return set(session.scalars(select(HashPartRecord.hash_id).distinct()))


def _rows(
    session: Session, table: Any, columns: Sequence[str], hash_ids: Iterable[int]
) -> Iterator[Any]:
    ids = sorted(set(hash_ids))
    for start in range(0, len(ids), LOOKUP_CHUNK):
        yield from session.execute(
            select(table.hash_id, *(getattr(table, c) for c in columns))
            .where(table.hash_id.in_(ids[start : start + LOOKUP_CHUNK]))
            .order_by(table.hash_id, table.position)
        )
