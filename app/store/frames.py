"""The frames of banked videos (vpdq hashes), written once with their video."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from app.models import VideoFrameRecord
from matcher.video import VideoFrame, VideoHash

#: Videos per IN (...) lookup.
LOOKUP_CHUNK = 500


def insert_frames(session: Session, videos: Mapping[int, VideoHash]) -> None:
    """Store the frames of newly banked videos, keyed by their hash row's id."""
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
    if rows:
        session.execute(insert(VideoFrameRecord), rows)


def frames_of(session: Session, hash_ids: Iterable[int]) -> dict[int, VideoHash]:
    """The stored frames of these videos, in order; videos without frames are absent."""
    ids = sorted(set(hash_ids))
    found: dict[int, list[VideoFrame]] = defaultdict(list)
    for start in range(0, len(ids), LOOKUP_CHUNK):
        rows = session.execute(
            select(
                VideoFrameRecord.hash_id,
                VideoFrameRecord.frame_number,
                VideoFrameRecord.timestamp,
                VideoFrameRecord.quality,
                VideoFrameRecord.value,
            )
            .where(VideoFrameRecord.hash_id.in_(ids[start : start + LOOKUP_CHUNK]))
            .order_by(VideoFrameRecord.hash_id, VideoFrameRecord.position)
        )
        for hash_id, number, timestamp, quality, value in rows:
            found[hash_id].append(VideoFrame(number, timestamp, quality, bytes.fromhex(value)))
    return {hash_id: VideoHash(tuple(frames)) for hash_id, frames in found.items()}
