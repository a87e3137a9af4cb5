"""What one upload may cost, and the byte check made before anything is decoded.

A module of its own, free of image libraries: the server reads the limits from its
settings and passes them to the hashing processes, which alone decode media.
"""

from __future__ import annotations

from dataclasses import dataclass

from matcher.errors import MediaError, MediaTooLargeError


@dataclass(frozen=True, slots=True)
class Limits:
    """What one upload may cost."""

    max_bytes: int = 50 * 1024 * 1024
    max_pixels: int = 64_000_000
    #: Smaller images carry too little to fingerprint (a 1x1 pixel is one colour).
    min_side: int = 16
    #: A video longer than this is refused, whatever its container claims.
    max_video_seconds: float = 600.0
    #: Frames decoded at most (ten minutes at 60 frames a second): bounds the time spent.
    max_video_frames: int = 36_000


def check_size(data: bytes, limits: Limits) -> None:
    """Refuse empty files and files over the byte limit."""
    if not data:
        raise MediaError("file is empty")
    if len(data) > limits.max_bytes:
        raise MediaTooLargeError(
            f"file is {len(data)} bytes, over the limit of {limits.max_bytes} bytes"
        )
