"""How much of two videos match, from the frame pairs the index found (vpdq semantics).

vpdq compares a query video with a banked one by two shares: of the query's frames,
how many match some frame of the banked video; of the banked video's frames, how many
some query frame matches. A clip cut from a banked video has a high query share; a
compilation that contains a banked video whole has a high banked share. Only frames of
quality 50 or more count, on both sides, as in vpdq: flat frames (black, fades, title
cards) match countless unrelated videos.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Frames under this pdq quality are neither indexed nor searched (vpdq's default).
MIN_FRAME_QUALITY = 50
#: Matched frames closer than this in time belong to one matching range.
RANGE_GAP = 2.5

Ranges = tuple[tuple[float, float], ...]


@dataclass(frozen=True, slots=True)
class FramePairs:
    """What the index found between one query video and one banked video: per pair, the
    query frame (its index among the query's searched frames), the banked frame's
    position, and their distance."""

    query_times: np.ndarray  # seconds, per searched query frame
    target_times: np.ndarray  # seconds, per frame of the banked video
    target_usable: int  # banked frames of quality >= MIN_FRAME_QUALITY
    query_frame: np.ndarray
    target_frame: np.ndarray
    distance: np.ndarray


@dataclass(frozen=True, slots=True)
class VideoMatch:
    """The shares (percent) and time ranges of a match within one frame distance."""

    query_share: float
    target_share: float
    matched_frames: int  # distinct banked frames matched
    distance: int  # the closest pair's
    query_ranges: Ranges
    target_ranges: Ranges


def compare(pairs: FramePairs, within: int) -> VideoMatch | None:
    """The match counting only pairs within `within` bits; None when no pair is."""
    close = pairs.distance <= within
    if not close.any():
        return None
    query_frames = np.unique(pairs.query_frame[close])
    target_frames = np.unique(pairs.target_frame[close])
    return VideoMatch(
        query_share=100.0 * len(query_frames) / max(1, len(pairs.query_times)),
        target_share=100.0 * len(target_frames) / max(1, pairs.target_usable),
        matched_frames=len(target_frames),
        distance=int(pairs.distance[close].min()),
        query_ranges=ranges(pairs.query_times[query_frames]),
        target_ranges=ranges(pairs.target_times[target_frames]),
    )


def ranges(times: np.ndarray, gap: float = RANGE_GAP) -> Ranges:
    """Sorted timestamps merged into (start, end) ranges wherever they are under `gap`
    seconds apart."""
    found: list[tuple[float, float]] = []
    for t in np.sort(times).tolist():
        if found and t - found[-1][1] < gap:
            found[-1] = (found[-1][0], t)
        else:
            found.append((t, t))
    return tuple((round(a, 3), round(b, 3)) for a, b in found)
