"""vpdq: a video's hash as the pdq hashes of its sampled frames.

The text form is the one Meta's vpdq reads and writes: one line per frame,
`frame_number,quality,pdq_hex,timestamp` with the timestamp in seconds to three
decimals. Banks keep a video's frames apart (each frame is indexed like a pdq hash);
the code that identifies the video in a bank is the sha256 of its canonical text, so
adding the same video twice changes nothing.
"""

from __future__ import annotations

import hashlib
import math
from typing import ClassVar

from matcher.errors import InvalidHashError
from matcher.signals import Media, Signal, SignalType
from matcher.video_hash import VideoFrame, VideoHash

#: Frames a submitted vpdq hash may hold (ten minutes at the most frequent sampling).
MAX_FRAMES = 36_000


def format_video(video: VideoHash) -> str:
    """The vpdq text form of a video's frames, one line each, newline-terminated."""
    return "".join(
        f"{f.frame_number},{f.quality},{f.code.hex()},{f.timestamp:.3f}\n" for f in video.frames
    )


def parse_video(text: str) -> VideoHash:
    """Read the vpdq text form; raise `InvalidHashError` naming the first bad line."""
    if not isinstance(text, str):
        raise InvalidHashError("vpdq value must be a string")
    frames = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        frames.append(_frame(line, number))
        if len(frames) > MAX_FRAMES:
            raise InvalidHashError(f"vpdq value has over {MAX_FRAMES} frames")
    if not frames:
        raise InvalidHashError("vpdq value has no frames")
    frames.sort(key=lambda f: (f.timestamp, f.frame_number))
    return VideoHash(tuple(frames), frames[-1].timestamp)


def _frame(line: str, number: int) -> VideoFrame:
    fields = [field.strip() for field in line.split(",")]
    if len(fields) != 4:
        raise InvalidHashError(
            f"vpdq line {number}: expected frame_number,quality,pdq_hex,timestamp; "
            f"got {len(fields)} fields"
        )
    frame, quality, value, timestamp = fields
    try:
        frame_number, quality_value, seconds = int(frame), int(quality), float(timestamp)
    except ValueError:
        raise InvalidHashError(
            f"vpdq line {number}: frame, quality or timestamp is not a number"
        ) from None
    if frame_number < 0 or not 0 <= quality_value <= 100:
        raise InvalidHashError(f"vpdq line {number}: frame must be >= 0, quality 0-100")
    if not math.isfinite(seconds) or seconds < 0:
        raise InvalidHashError(f"vpdq line {number}: timestamp must be a finite number >= 0")
    if len(value) != 64:
        raise InvalidHashError(
            f"vpdq line {number}: pdq hash must be 64 hex characters, got {len(value)}"
        )
    try:
        code = bytes.fromhex(value)
    except ValueError:
        raise InvalidHashError(f"vpdq line {number}: pdq hash is not hexadecimal") from None
    return VideoFrame(frame_number, round(seconds, 3), quality_value, code)


class VPDQ(SignalType):
    """vpdq: the frames of a video, each a pdq hash with its frame number, timestamp and
    quality. Its value is the vpdq text form; its code, the text's sha256."""

    name = "vpdq"
    code_bytes = 32
    perceptual = False
    sequence: ClassVar[bool] = True

    def parse(self, text: str) -> bytes:
        """The identity of a vpdq text form (or of a 64-hex identity, as `format` gives)."""
        if isinstance(text, str) and "," not in text:
            return super().parse(text)
        return self.identity(parse_video(text))

    def parse_frames(self, text: str) -> VideoHash | None:
        if isinstance(text, str) and "," not in text:
            return None  # an identity alone: it names a banked video, it has no frames
        return parse_video(text)

    @staticmethod
    def identity(video: VideoHash) -> bytes:
        """The code a bank knows a video by: the sha256 of its canonical text."""
        return hashlib.sha256(format_video(video).encode()).digest()

    def hash_media(self, media: Media) -> Signal | None:
        if media.video is None:
            return None
        return Signal(self.name, format_video(media.video["original"]))

    def hash_variants(self, media: Media) -> list[Signal]:
        """The video's frames, then the same frames in each other orientation and, when
        they have bars, trimmed of them (a mirrored, rotated or letterboxed copy of a
        banked video matches in one of them)."""
        if media.video is None:
            return []
        return [
            Signal(self.name, format_video(video), None, None if name == "original" else name)
            for name, video in media.video.items()
        ]
