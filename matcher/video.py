"""Video: frames sampled and decoded in memory, each hashed with pdq.

A video's perceptual hash is the list of its sampled frames' pdq hashes with frame
number, timestamp and quality: what Meta's vpdq computes (see `matcher.vpdq` for its
text form). Frames are sampled one a second and at every scene cut, and the one-second
clock restarts at each cut: two copies of a video that differ by an intro, and so by
where their one-second points fall, are sampled at the same frames after the first cut.

The bytes are decoded from memory with PyAV (FFmpeg): no frame is written anywhere,
and only one decoded frame is held at a time. The declared length is checked before
decoding and the decoded length while decoding, so a container that lies about its
length costs no more than an honest one at the limit.
"""

from __future__ import annotations

import io
from collections import defaultdict, deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import replace
from typing import TYPE_CHECKING

import cv2
import numpy as np

from matcher.candidates import Variant
from matcher.errors import MediaError, MediaTooLargeError, UnsupportedMediaError
from matcher.limits import Limits, check_size
from matcher.pdq_kernel import pdq_code
from matcher.variants import Box, dihedral, trim_box, uncropped, worth_a_candidate
from matcher.video_hash import VideoFrame, VideoHash

if TYPE_CHECKING:
    # PyAV is imported where a video is decoded: the server process only parses hashes
    # (19 MB it would never use); its hashing processes load it at start (`warm_up`).
    import av

#: Longest side a sampled frame is shrunk to before pdq: about 5 bits (at most 12) from
#: pdq at full 720p size, for a quarter of the time (benchmarks/RESULTS.md, "Video").
FRAME_MAX_SIDE = 640
#: Mean absolute change of the luma thumbnail (0-255) that marks a scene cut.
SCENE_CUT = 30.0
#: Fewest seconds between two sampled frames, so flicker cannot sample every frame.
MIN_GAP = 0.25
#: Pixel formats whose first plane is 8-bit luma, readable without conversion.
LUMA_FIRST = ("yuv420p", "yuvj420p", "yuv422p", "yuvj422p", "yuv444p", "yuvj444p", "nv12", "gray")
#: Sampled frames waiting for the hashing thread at most (bounds the frames held).
PENDING_FRAMES = 4
#: The luma thumbnail scene cuts are measured on: about this many samples a side.
THUMB = 24


def sniff_video(data: bytes) -> str | None:
    """The container a file's leading bytes claim, if it is one hashwall decodes."""
    if data[4:8] == b"ftyp":
        return "MP4" if data[8:10] != b"qt" else "MOV"
    if data[4:8] in (b"moov", b"mdat", b"wide", b"free", b"skip"):
        return "MOV"
    if data[:4] == b"\x1aE\xdf\xa3":
        return "WebM" if b"webm" in data[:64] else "MKV"
    if data[:4] == b"RIFF" and data[8:12] == b"AVI ":
        return "AVI"
    return None


def hash_video(data: bytes, limits: Limits, every: float = 1.0) -> VideoHash:
    """Decode a video in memory and pdq-hash its sampled frames.

    Raises `MediaError` for what cannot be hashed, naming what was wrong.
    """
    return _hash(data, limits, every, oriented=False)["original"]


def hash_video_orientations(
    data: bytes, limits: Limits, every: float = 1.0
) -> dict[str, VideoHash]:
    """`hash_video` for each of the eight orientations of the frames (see
    `matcher.variants.ORIENTATIONS`), from one decode: a mirrored or rotated copy of a
    banked video matches in one of them. The reference pdq derives them from one DCT.
    When frames have uniform bars (letterboxed, pillarboxed, padded copies), eight more,
    `trimmed:<orientation>`, hash them with the bars cut off."""
    return _hash(data, limits, every, oriented=True)


def _hash(data: bytes, limits: Limits, every: float, oriented: bool) -> dict[str, VideoHash]:
    hash_frame = _oriented if oriented else _plain
    frames: dict[str, list[VideoFrame]] = defaultdict(list)
    pending: deque[tuple[int, float, Future[list[Variant]]]] = deque()

    def collect(keep: int) -> None:
        while len(pending) > keep:
            number, timestamp, future = pending.popleft()
            for variant in future.result():
                frames[variant.name].append(
                    VideoFrame(number, timestamp, variant.quality, variant.code)
                )

    last = 0.0
    # Frames are hashed on a second thread while the next ones decode: the decoder
    # releases the GIL, so hashing costs little wall time on top of decoding.
    with _open(data, limits) as container, ThreadPoolExecutor(1) as hasher:
        stream = container.streams.video[0]
        declared, declared_frames = _declared_seconds(container, stream), stream.frames
        stream_rate = float(stream.average_rate or 0)
        for number, timestamp, frame in _sampled(container, stream, limits, every):
            last = timestamp
            if frame is not None:
                pending.append((number, timestamp, hasher.submit(hash_frame, frame)))
                collect(PENDING_FRAMES)
        collect(0)
    if not frames:
        raise MediaError("video has no frames that decode")
    # A damaged file decodes up to the damage; its container still says how long it was
    # (in seconds, or in frames: an AVI cut short re-estimates its seconds).
    if declared_frames and stream_rate:
        declared = max(declared or 0.0, declared_frames / stream_rate)
    if declared is not None and declared - last > max(2.0, declared / 4):
        raise MediaError(
            f"video is truncated: its frames stop at {last:.1f} s of a declared {declared:.1f} s"
        )
    duration = declared if declared is not None else last
    if frames.get("trimmed:original") == frames["original"]:
        # No frame had bars: the trimmed candidates would repeat the frames'.
        frames = {name: found for name, found in frames.items() if not name.startswith("trimmed:")}
    return {name: VideoHash(tuple(found), duration) for name, found in frames.items()}


def _oriented(frame: av.VideoFrame) -> list[Variant]:
    """The frame's eight orientations, then eight of the frame with its bars trimmed
    (`trimmed:...`; the whole frame's again where it has none, so that the trimmed
    sequence keeps every frame and its shares stay comparable), then the frame padded out
    as if it were cropped (`uncropped1.2:mirrored`; see `matcher.variants.uncropped`)."""
    rgb = frame_rgb(frame)
    whole = dihedral(rgb)
    padded = uncropped(rgb)
    box = _bars(rgb)
    if box is None:
        return [*whole, *(replace(v, name=f"trimmed:{v.name}") for v in whole), *padded]
    top, bottom, left, right = box
    return [*whole, *dihedral(rgb[top:bottom, left:right], "trimmed"), *padded]


def _bars(rgb: np.ndarray) -> Box | None:
    """The frame inside its uniform bars (letterbox, pillarbox, padding), if it has any
    worth trimming. Found on the shrunk frame, where the bar's last row blends into the
    picture, so one more pixel is taken from each trimmed side."""
    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    top, bottom, left, right = trim_box(gray)
    height, width = gray.shape
    box = (
        top + (top > 0),
        bottom - (bottom < height),
        left + (left > 0),
        right - (right < width),
    )
    return box if worth_a_candidate(box, gray.shape) else None


def _plain(frame: av.VideoFrame) -> list[Variant]:
    code, quality = pdq_code(frame_rgb(frame))
    return [Variant("original", code, quality)]


def _open(data: bytes, limits: Limits) -> av.container.InputContainer:
    check_size(data, limits)
    claimed = sniff_video(data)
    if claimed is None:
        raise UnsupportedMediaError(
            "file is not a video in a supported container (MP4, MOV, WebM, MKV, AVI)"
        )
    import av

    try:
        container = av.open(io.BytesIO(data), mode="r")
    except (av.FFmpegError, OSError, ValueError):
        raise MediaError(f"{claimed} video is truncated or corrupt") from None
    if not container.streams.video:
        container.close()
        raise MediaError(f"{claimed} file has no video stream (audio only?)")
    stream = container.streams.video[0]
    declared = _declared_seconds(container, stream)
    pixels = (stream.codec_context.width or 0) * (stream.codec_context.height or 0)
    problem: MediaError | None = None
    if declared is not None and declared > limits.max_video_seconds:
        problem = MediaTooLargeError(
            f"video is {declared:.0f} s long, over the limit of {limits.max_video_seconds:.0f} s"
        )
    elif pixels > limits.max_pixels:
        problem = MediaTooLargeError(
            f"video frames are {stream.codec_context.width}x{stream.codec_context.height}, "
            f"over the limit of {limits.max_pixels} pixels"
        )
    if problem is not None:
        container.close()
        raise problem
    # Both cores decode one frame (slice threads): measured faster than frame threads on
    # H.264 here, and no frames are buffered ahead. Skipping the deblocking filter saves a
    # fifth of the decoding and moves pdq by under a bit on average (4 at most).
    stream.thread_type = "SLICE"
    stream.codec_context.options = {"skip_loop_filter": "all"}
    return container


def _declared_seconds(
    container: av.container.InputContainer, stream: av.VideoStream
) -> float | None:
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        import av

        return container.duration / av.time_base
    return None


def _sampled(
    container: av.container.InputContainer,
    stream: av.VideoStream,
    limits: Limits,
    every: float,
) -> Iterator[tuple[int, float, av.VideoFrame | None]]:
    """(frame number, seconds from the first frame, frame or None) of each decoded frame;
    the frame is given for sampled ones: the first, one each `every` seconds, and each
    scene cut."""
    import av

    rate = float(stream.average_rate or stream.guessed_rate or 25)
    start: float | None = None
    sampled_at = -np.inf
    previous: np.ndarray | None = None
    number = -1
    try:
        for frame in container.decode(stream):
            number += 1
            if number >= limits.max_video_frames:
                raise MediaTooLargeError(
                    f"video has over {limits.max_video_frames} frames, over the limit"
                )
            seconds = frame.time if frame.time is not None else number / rate
            start = seconds if start is None else start
            timestamp = round(seconds - start, 3)
            if timestamp > limits.max_video_seconds:
                raise MediaTooLargeError(
                    f"video runs past {limits.max_video_seconds:.0f} s, over the limit "
                    "(its container claims a shorter length)"
                )
            thumb = _luma_thumbnail(frame)
            cut = previous is not None and _changed(previous, thumb) > SCENE_CUT
            previous = thumb
            gap = timestamp - sampled_at
            if gap >= every - 1e-3 or (cut and gap >= MIN_GAP):
                sampled_at = timestamp
                yield number, timestamp, frame
            else:
                yield number, timestamp, None
    except av.FFmpegError:
        if number <= 0:
            raise MediaError("video is truncated or corrupt: no frame decodes") from None
        raise MediaError(f"video is corrupt after frame {number}") from None


def _luma_thumbnail(frame: av.VideoFrame) -> np.ndarray:
    """A coarse grid of luma samples, read from the decoder's buffer without a copy of
    the frame (a full conversion per frame would cost as much as decoding)."""
    if frame.format.name in LUMA_FIRST:
        plane = frame.planes[0]
        rows = np.frombuffer(memoryview(plane), np.uint8).reshape(-1, plane.line_size)
        luma = rows[: frame.height]
        step_y, step_x = max(1, frame.height // THUMB), max(1, frame.width // THUMB)
        return luma[::step_y, : frame.width : step_x][:THUMB, :THUMB].astype(np.int16)
    return frame.to_ndarray(format="gray", width=THUMB, height=THUMB).astype(np.int16)


def _changed(a: np.ndarray, b: np.ndarray) -> float:
    if a.shape != b.shape:
        return np.inf
    return float(np.abs(a - b).mean())


def frame_rgb(frame: av.VideoFrame) -> np.ndarray:
    """A decoded frame as RGB, its longest side shrunk to FRAME_MAX_SIDE (area averaging)."""
    longest = max(frame.width, frame.height)
    if longest <= FRAME_MAX_SIDE:
        return frame.to_ndarray(format="rgb24")
    scale = FRAME_MAX_SIDE / longest
    return frame.to_ndarray(
        format="rgb24",
        width=max(1, round(frame.width * scale)),
        height=max(1, round(frame.height * scale)),
        interpolation="AREA",
    )
