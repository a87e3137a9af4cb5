"""In-memory image decoding with limits checked before the expensive work.

Uploads are decoded from the bytes in memory and never touch the disk. The header is
read first (Pillow opens lazily and reads only the header) so an image that claims
20000x20000 pixels is refused before a gigabyte buffer is allocated; OpenCV then
decodes the pixels, applying the EXIF orientation, and refuses truncated files.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image, UnidentifiedImageError

from matcher.errors import MediaError, MediaTooLargeError, UnsupportedMediaError
from matcher.limits import Limits, check_size

# OpenCV reports decode failures on stderr; hashwall reports them as errors instead.
cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)
# Pillow only reads headers here, and hashwall applies its own, configured pixel limit to
# them; Pillow's fixed limit would refuse first with a message that omits the dimensions.
Image.MAX_IMAGE_PIXELS = None

#: Pillow's names for the formats hashwall decodes (MPO is a JPEG with extra frames).
IMAGE_FORMATS = frozenset({"JPEG", "MPO", "PNG", "WEBP", "GIF", "BMP", "TIFF"})


#: Leading bytes of each supported format, to tell a damaged image from a non-image.
MAGIC = {
    b"\xff\xd8\xff": "JPEG",
    b"\x89PNG\r\n\x1a\n": "PNG",
    b"GIF87a": "GIF",
    b"GIF89a": "GIF",
    b"BM": "BMP",
    b"II*\x00": "TIFF",
    b"MM\x00*": "TIFF",
}


def sniff_format(data: bytes) -> str | None:
    """The format a file's leading bytes claim, if it is one hashwall decodes."""
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    return next((fmt for magic, fmt in MAGIC.items() if data.startswith(magic)), None)


@dataclass(frozen=True, slots=True)
class ImageHeader:
    """What the header says, read without decoding the pixels."""

    format: str
    width: int
    height: int


def read_header(data: bytes, limits: Limits) -> ImageHeader:
    """Identify the format and dimensions and check them against the limits."""
    check_size(data, limits)
    try:
        with Image.open(io.BytesIO(data)) as image:
            header = ImageHeader(image.format or "", image.width, image.height)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        claimed = sniff_format(data)
        if claimed:
            raise MediaError(f"{claimed} image is truncated or corrupt") from None
        raise UnsupportedMediaError(
            "file is not an image in a supported format (JPEG, PNG, WebP, GIF, BMP, TIFF) "
            "nor a video in a supported container (MP4, MOV, WebM, MKV, AVI)"
        ) from None
    if header.format not in IMAGE_FORMATS:
        raise UnsupportedMediaError(f"image format {header.format or 'unknown'} is not supported")
    pixels = header.width * header.height
    if pixels > limits.max_pixels:
        raise MediaTooLargeError(
            f"image is {header.width}x{header.height} ({pixels} pixels), "
            f"over the limit of {limits.max_pixels} pixels"
        )
    if min(header.width, header.height) < limits.min_side:
        raise MediaError(
            f"image is {header.width}x{header.height}, smaller than "
            f"{limits.min_side} pixels on a side"
        )
    return header


#: libjpeg can decode at 1/8, 1/4 or 1/2 scale for a fraction of the time and memory.
REDUCED_JPEG = (
    (8, cv2.IMREAD_REDUCED_COLOR_8),
    (4, cv2.IMREAD_REDUCED_COLOR_4),
    (2, cv2.IMREAD_REDUCED_COLOR_2),
)


def shrink(image: np.ndarray, max_side: int) -> np.ndarray:
    """Downscale with area averaging so the longest side is at most `max_side`."""
    height, width = image.shape[:2]
    longest = max(height, width)
    if longest <= max_side:
        return image
    scale = max_side / longest
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA)


def decode_image(data: bytes, limits: Limits, max_side: int | None = None) -> np.ndarray:
    """Decode an image to an RGB uint8 array (EXIF orientation applied), or raise.

    With `max_side`, the result is area-downscaled to at most that longest side, and a
    large JPEG is decoded at a reduced scale that still leaves at least `max_side` pixels.
    """
    header = read_header(data, limits)
    flag = cv2.IMREAD_COLOR
    if max_side and header.format in ("JPEG", "MPO"):
        longest = max(header.width, header.height)
        flag = next((f for factor, f in REDUCED_JPEG if longest // factor >= max_side), flag)
    bgr = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), flag)
    if bgr is None:
        raise MediaError(f"{header.format} image is truncated or corrupt")
    if max_side:
        bgr = shrink(bgr, max_side)
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
