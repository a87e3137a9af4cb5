"""In-memory decoding: formats, EXIF orientation, limits checked before decoding."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from app.demo import sample_image
from matcher.decode import Limits, decode_image, read_header
from matcher.errors import MediaError, MediaTooLargeError, UnsupportedMediaError

LIMITS = Limits()


def pil_bytes(rgb: np.ndarray, fmt: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, fmt, **options)
    return buffer.getvalue()


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "GIF", "BMP", "TIFF"])
def test_formats_decode_like_pillow(fmt: str) -> None:
    rgb = sample_image(1, (240, 320))
    data = pil_bytes(rgb, fmt)
    decoded = decode_image(data, LIMITS)
    reference = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))
    assert decoded.shape == reference.shape
    assert decoded.dtype == np.uint8
    # Lossless formats decode identically; JPEG and WebP decoders may round differently.
    assert np.abs(decoded.astype(int) - reference.astype(int)).mean() < 1.5, fmt


def test_channel_order_is_rgb() -> None:
    red = np.zeros((32, 32, 3), np.uint8)
    red[..., 0] = 255
    assert tuple(decode_image(pil_bytes(red, "PNG"), LIMITS)[0, 0]) == (255, 0, 0)


def test_exif_orientation_is_applied() -> None:
    rgb = sample_image(2, (200, 300))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 clockwise to display
    decoded = decode_image(pil_bytes(rgb, "JPEG", exif=exif), LIMITS)
    assert decoded.shape == (300, 200, 3)
    expected = np.rot90(rgb, k=-1)
    assert np.abs(decoded.astype(int) - expected.astype(int)).mean() < 8


def test_pixel_limit_is_checked_from_the_header() -> None:
    data = pil_bytes(sample_image(3, (100, 200)), "PNG")
    with pytest.raises(MediaTooLargeError, match=r"100x200|200x100"):
        read_header(data, Limits(max_pixels=10_000))


def test_byte_limit() -> None:
    with pytest.raises(MediaTooLargeError):
        decode_image(b"\x89PNG" + bytes(100), Limits(max_bytes=50))


def test_not_an_image() -> None:
    with pytest.raises(UnsupportedMediaError):
        decode_image(b"%PDF-1.7 hello", LIMITS)


def test_truncated_png() -> None:
    data = pil_bytes(sample_image(4), "PNG")
    with pytest.raises(MediaError, match="truncated"):
        decode_image(data[: len(data) // 3], LIMITS)
