"""Test data made in memory: photo-like images, their encodings, and hashes near them."""

from __future__ import annotations

import random

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
