"""Test data made in memory: photo-like images, their encodings, and hashes near them."""

from __future__ import annotations

import os
import random
import tempfile
from collections.abc import Callable, Sequence

import cv2
import numpy as np

from app.demo import sample_image
from matcher.pdq import pdq_from_rgb


def encode(rgb: np.ndarray, ext: str = ".jpg", **params: int) -> bytes:
    """Encode an RGB image in memory."""
    flags = [v for pair in params.items() for v in (getattr(cv2, pair[0]), pair[1])]
    ok, buffer = cv2.imencode(ext, cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), flags)
    assert ok
    return buffer.tobytes()


def photo(seed: int, ext: str = ".jpg", size: tuple[int, int] = (480, 640)) -> bytes:
    """A photo-like image file."""
    return encode(sample_image(seed, size), ext)


def pdq_hex(seed: int) -> str:
    """The pdq hash of the sample image `seed`."""
    return pdq_from_rgb(sample_image(seed))[0].hex()


def flip_bits(hex_value: str, count: int, seed: int = 0) -> str:
    """A hash exactly `count` bits from `hex_value`."""
    bits = len(hex_value) * 4
    value = int(hex_value, 16)
    for position in random.Random(seed).sample(range(bits), count):
        value ^= 1 << position
    return f"{value:0{len(hex_value)}x}"


def random_pdq(seed: int) -> str:
    """A random balanced 256-bit hash (not degenerate)."""
    rng = random.Random(seed)
    positions = rng.sample(range(256), 128)
    return f"{sum(1 << p for p in positions):064x}"


def video(
    scenes: Sequence[int],
    seconds: float = 3.0,
    fps: int = 10,
    size: tuple[int, int] = (240, 320),
    transform: Callable[[np.ndarray], np.ndarray] | None = None,
    container: str = ".mp4",
) -> bytes:
    """A video of photo-like scenes (`sample_image(seed)` each), `seconds` long each, the
    camera slowly zooming in so that no two frames are the same, written by OpenCV's
    VideoWriter (MPEG-4 in MP4, Motion JPEG in AVI)."""
    height, width = size
    fourcc = {".mp4": "mp4v", ".avi": "MJPG"}[container]
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, f"video{container}")
        writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*fourcc), fps, (width, height))
        assert writer.isOpened()
        for seed in scenes:
            picture = sample_image(seed, (480, 640))
            frames = round(seconds * fps)
            for n in range(frames):
                zoom = 1 + 0.15 * n / frames
                h, w = round(480 / zoom), round(640 / zoom)
                top, left = (480 - h) // 2, (640 - w) // 2
                frame = cv2.resize(
                    picture[top : top + h, left : left + w],
                    (width, height),
                    interpolation=cv2.INTER_AREA,
                )
                if transform is not None:
                    frame = cv2.resize(transform(frame), (width, height))
                writer.write(cv2.cvtColor(np.ascontiguousarray(frame), cv2.COLOR_RGB2BGR))
        writer.release()
        with open(path, "rb") as f:
            return f.read()
