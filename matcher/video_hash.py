"""A video's hash: its sampled frames' pdq codes, with frame number, time and quality.

Kept apart from `matcher.video`, which decodes and samples videos, so the server can
parse, store and match video hashes without loading the image and video libraries.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class VideoFrame:
    """One sampled frame's pdq hash. `code` is 32 bytes; `timestamp` is in seconds."""

    frame_number: int
    timestamp: float
    quality: int
    code: bytes


@dataclass(frozen=True, slots=True)
class VideoHash:
    """A video's frame hashes, in time order; `duration` in seconds when known."""

    frames: tuple[VideoFrame, ...]
    duration: float | None = None
