"""Extra pdq hashes: the query-side candidates an upload may match under, beyond its
own, and the bank-side parts an original banked from media is stored with.

Banks hold the hash of each original only (StopNCII sends one pdq per image), and
re-uploaders mirror, rotate, pad, letterbox, screenshot or frame the picture. So the
robustness comes from the query side: for each upload, besides its own hash,

- the eight dihedral orientations (rotations by 90 degrees, mirrors), which the
  reference pdq derives from one DCT at no extra cost;
- the picture with uniform borders trimmed (padding, letterbox and pillarbox bars);
- the largest textured region inside a mostly flat canvas (a photo in a screenshot of
  an app or a web page, a meme frame with caption bands), each in eight orientations.

Every extra candidate is one more chance of a false match, so the policy treats them
more strictly than the upload's own hash (see `app/policy.py`): only candidates of
quality at least 50 are searched, and they count only within the bank's match distance,
never its review band. The regions are found on a small grey copy of the picture; the
hashes are computed on the working image.

A bank filled from media (a platform's own confirmed content) holds the picture itself
for a moment, so it can store more than one hash: `bank_parts` hashes the crops, caption
bands and small rotations a re-uploader makes of it. pdq moves by tens of bits when a
crop shifts by a few percent of the picture, so crops are taken on a grid fine enough
that any crop of up to 15% of each side lies within about 1% of one of them. Parts
count only within the match distance, like the query-side candidates.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import cv2
import numpy as np
import pdqhash

from matcher.decode import shrink
from matcher.signals import PerceptualSignalType

#: The reference pdq's dihedral order, each named by what the uploader did to the
#: original that this candidate undoes.
ORIENTATIONS = (
    "original",
    "rotated_90_cw",
    "rotated_180",
    "rotated_90_ccw",
    "flipped",
    "mirrored",
    "transposed",
    "transversed",
)
#: Candidates weaker than this are not searched (flat images collide with each other).
MIN_QUALITY = 50
#: Regions are looked for on a grey copy this large.
ANALYSIS_SIDE = 384
#: A trimmed or inner region smaller than this share of the picture is not a candidate.
MIN_REGION_SHARE = 0.2
#: The least share of non-flat pixels in a row or column of a photo found in a canvas.
PHOTO_COVER = 0.5
#: A region must leave out at least this share of the picture to be worth a candidate.
MIN_REMOVED_SHARE = 0.04


@dataclass(frozen=True, slots=True)
class Variant:
    """One candidate hash: how it was made (`trimmed:mirrored`), its code and quality."""

    name: str
    code: bytes
    quality: int


Box = tuple[int, int, int, int]  # top, bottom, left, right (exclusive ends)


def dihedral(rgb: np.ndarray, region: str = "whole") -> list[Variant]:
    """The eight orientations of a picture (or of a region of it), from one DCT."""
    hashes, quality = pdqhash.compute_dihedral(np.ascontiguousarray(rgb))
    prefix = "" if region == "whole" else f"{region}:"
    return [
        Variant(f"{prefix}{orientation}", PerceptualSignalType.bits_to_code(bits), int(quality))
        for orientation, bits in zip(ORIENTATIONS, hashes, strict=True)
    ]


def _line_is_border(line: np.ndarray, colour: float, tolerance: float) -> bool:
    return bool(np.mean(np.abs(line - colour) <= tolerance) >= 0.97)


def trim_box(gray: np.ndarray, tolerance: float = 8.0) -> Box:
    """The box left after removing uniform bars from the sides of a grey image (padding,
    letterbox). A side has a bar only if its whole outer edge is one colour: with a
    letterbox the left edge runs through the picture too, so a flat stretch of the
    picture is never taken for a bar."""
    values = gray.astype(np.float32)
    height, width = values.shape
    edges = {
        "top": values[0, :],
        "bottom": values[-1, :],
        "left": values[:, 0],
        "right": values[:, -1],
    }
    colours = {
        side: float(np.median(edge))
        for side, edge in edges.items()
        if _line_is_border(edge, float(np.median(edge)), tolerance)
    }
    top, bottom, left, right = 0, height, 0, width
    if "top" in colours:
        while top < bottom - 1 and _line_is_border(values[top], colours["top"], tolerance):
            top += 1
    if "bottom" in colours:
        while bottom - 1 > top and _line_is_border(
            values[bottom - 1], colours["bottom"], tolerance
        ):
            bottom -= 1
    if "left" in colours:
        while left < right - 1 and _line_is_border(
            values[top:bottom, left], colours["left"], tolerance
        ):
            left += 1
    if "right" in colours:
        while right - 1 > left and _line_is_border(
            values[top:bottom, right - 1], colours["right"], tolerance
        ):
            right -= 1
    return top, bottom, left, right


def inner_box(gray: np.ndarray) -> Box | None:
    """The bounding box of the largest non-flat region of a grey image, or None.

    App chrome, page backgrounds and caption bands are flat (equal values over long
    runs) with thin text; a photo varies almost everywhere, if only by its gradients and
    noise. Non-flat pixels, closed over small gaps, leave the photo as the largest blob.
    """
    # Opening drops text strokes and the thin edges of flat bars; closing then joins the
    # photo across its own smooth patches.
    opening = cv2.getStructuringElement(cv2.MORPH_RECT, (7, 7))
    size = max(3, min(gray.shape) // 64)
    closing = cv2.getStructuringElement(cv2.MORPH_RECT, (size, size))
    varied = cv2.morphologyEx(_varied(gray).astype(np.uint8), cv2.MORPH_OPEN, opening)
    varied = cv2.morphologyEx(varied, cv2.MORPH_CLOSE, closing)
    count, _, stats, _ = cv2.connectedComponentsWithStats(varied, connectivity=4)
    if count < 2:
        return None
    best = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    left, top, width, height, area = (int(v) for v in stats[best])
    if area < 0.6 * width * height:  # a scatter of text, not a picture
        return None
    return top, top + height, left, left + width


def _varied(gray: np.ndarray) -> np.ndarray:
    """Where a grey image is not flat: the spread of values over 5x5 pixels exceeds 4."""
    kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (5, 5))
    return (cv2.dilate(gray, kernel).astype(np.int16) - cv2.erode(gray, kernel)) > 4


def peel(varied: np.ndarray) -> Box:
    """The box left after peeling mostly flat rows and columns off the edges of a mask
    of non-flat pixels: a caption or a line of text next to a photo."""
    height, width = varied.shape
    rows, columns = varied.mean(axis=1), varied.mean(axis=0)
    top, bottom, left, right = 0, height, 0, width
    while top < bottom - 1 and rows[top] < PHOTO_COVER:
        top += 1
    while bottom - 1 > top and rows[bottom - 1] < PHOTO_COVER:
        bottom -= 1
    while left < right - 1 and columns[left] < PHOTO_COVER:
        left += 1
    while right - 1 > left and columns[right - 1] < PHOTO_COVER:
        right -= 1
    return top, bottom, left, right


def worth_a_candidate(box: Box, shape: tuple[int, ...]) -> bool:
    """Whether a region of a picture is worth hashing as a candidate: big enough to be
    the picture, small enough to differ from the whole."""
    top, bottom, left, right = box
    kept = (bottom - top) * (right - left) / (shape[0] * shape[1])
    return (
        MIN_REGION_SHARE <= kept <= 1 - MIN_REMOVED_SHARE and min(bottom - top, right - left) >= 16
    )


def _grown(box: Box, pixels: int) -> Box:
    top, bottom, left, right = box
    return top - pixels, bottom + pixels, left - pixels, right + pixels


def _scaled(box: Box, factor: float, shape: tuple[int, ...]) -> Box:
    top, bottom, left, right = box
    return (
        max(0, round(top * factor)),
        min(shape[0], round(bottom * factor)),
        max(0, round(left * factor)),
        min(shape[1], round(right * factor)),
    )


def regions(rgb: np.ndarray) -> dict[str, Box]:
    """The boxes candidates are hashed from: `trimmed` (uniform borders removed) and
    `inner` (the photo in a canvas), when each is worth a candidate."""
    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    boxes: dict[str, Box] = {}
    # A sliver of border left in moves pdq by tens of bits: trim at full resolution.
    trimmed = trim_box(gray)
    if worth_a_candidate(trimmed, gray.shape):
        boxes["trimmed"] = trimmed
    small = shrink(gray, ANALYSIS_SIDE)
    inner = inner_box(small)
    if inner is not None and worth_a_candidate(inner, small.shape):
        # Found on the small copy; its edges are then settled at full resolution.
        factor = gray.shape[0] / small.shape[0]
        top, bottom, left, right = _scaled(_grown(inner, 2), factor, gray.shape)
        inside = _grown(peel(_varied(gray[top:bottom, left:right])), -2)
        # (less the 2 pixels the 5x5 spread reaches past the photo's edge)
        inner = (top + inside[0], top + inside[1], left + inside[2], left + inside[3])
        if worth_a_candidate(inner, gray.shape) and inner != boxes.get("trimmed"):
            boxes["inner"] = inner
    return boxes


def pdq_variants(rgb: np.ndarray) -> list[Variant]:
    """Every candidate of an RGB image, its own hash (`original`) first; candidates
    under `MIN_QUALITY` are left out, except the original."""
    found = dihedral(rgb, "whole")
    for region, (top, bottom, left, right) in regions(rgb).items():
        found.extend(dihedral(rgb[top:bottom, left:right], region))
    return [found[0], *(v for v in found[1:] if v.quality >= MIN_QUALITY)]


#: How to undo what the uploader did, for each orientation.
UNDO: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "original": lambda x: x,
    "rotated_90_cw": lambda x: np.rot90(x, 1),
    "rotated_180": lambda x: np.rot90(x, 2),
    "rotated_90_ccw": lambda x: np.rot90(x, -1),
    "flipped": lambda x: x[::-1],
    "mirrored": lambda x: x[:, ::-1],
    "transposed": lambda x: x.transpose(1, 0, 2),
    "transversed": lambda x: np.rot90(x, 2).transpose(1, 0, 2),
}


def exact_variants(rgb: np.ndarray, names: Iterable[str]) -> list[Variant]:
    """The candidates called `names`, each hashed by pdq on the picture turned back as
    it was, rather than derived from the upload's DCT.

    The derived orientations cost nothing but sit about 15 bits from the original's hash
    on average (the reference's box filter is not symmetric); turning the pixels back
    gives the original's own pixels for a lossless mirror or rotation. Each costs a full
    pdq, so this is the second look for candidates that came close, not the first."""
    boxes: dict[str, Box] | None = None
    found = []
    for name in names:
        region, _, orientation = name.rpartition(":")
        if orientation not in UNDO:
            continue
        picture = rgb
        if region:
            boxes = regions(rgb) if boxes is None else boxes
            if region not in boxes:
                continue
            top, bottom, left, right = boxes[region]
            picture = rgb[top:bottom, left:right]
        bits, quality = pdqhash.compute(np.ascontiguousarray(UNDO[orientation](picture)))
        found.append(Variant(name, PerceptualSignalType.bits_to_code(bits), int(quality)))
    return found


#: Crops banked from media: the share of each side kept, and the grid of positions (per
#: axis) they are taken at. Steps of about 2% of the side keep a crop anywhere in between
#: within pdq's reach of one of them.
CROP_GRID = {0.97: 3, 0.95: 4, 0.925: 5, 0.9: 6, 0.875: 7, 0.85: 8}
#: Parts are hashed on a copy of the picture this large: as close to the upload's hash as
#: at full size (measured on crops, bands and rotations), for a sixth of the time.
PARTS_SIDE = 512
#: The height of the caption bands banked (a band of text over the top or bottom).
BAND_SHARE = 0.15
#: Small rotations banked, in degrees (the corners filled black, as editors do); pdq
#: moves by tens of bits between whole degrees on a detailed picture.
SMALL_ROTATIONS = tuple(float(d) for d in range(-6, 7) if d)


def bank_parts(rgb: np.ndarray) -> list[Variant]:
    """The parts an original banked from media is stored with: crops on a grid
    (`crop90:2.5`: 90% of each side kept, grid row 2, column 5; steps of 2.5% from 97%
    to 85%), the picture with a
    caption band over its top or bottom in black and white, or cut off (`band:top:white`,
    `cut:top`), and small rotations (`rotated:+2`). Weak parts (quality under
    MIN_QUALITY) and repeats are left out."""
    rgb = shrink(rgb, PARTS_SIDE)
    height, width = rgb.shape[:2]
    pictures: dict[str, np.ndarray] = {}
    for keep, steps in CROP_GRID.items():
        crop_h, crop_w = round(height * keep), round(width * keep)
        for row, top in enumerate(np.linspace(0, height - crop_h, steps).round().astype(int)):
            for column, left in enumerate(
                np.linspace(0, width - crop_w, steps).round().astype(int)
            ):
                name = f"crop{round(keep * 100)}:{row}.{column}"
                pictures[name] = rgb[top : top + crop_h, left : left + crop_w]
    band = max(1, round(height * BAND_SHARE))
    for side, rows in (("top", slice(0, band)), ("bottom", slice(height - band, height))):
        pictures[f"cut:{side}"] = np.delete(rgb, rows, axis=0)
        for colour, value in (("black", 0), ("white", 255)):
            covered = rgb.copy()
            covered[rows] = value
            pictures[f"band:{side}:{colour}"] = covered
    for degrees in SMALL_ROTATIONS:
        matrix = cv2.getRotationMatrix2D((width / 2, height / 2), degrees, 1.0)
        pictures[f"rotated:{degrees:+.0f}"] = cv2.warpAffine(rgb, matrix, (width, height))
    parts, seen = [], set()
    for name, picture in pictures.items():
        bits, quality = pdqhash.compute(np.ascontiguousarray(picture))
        code = PerceptualSignalType.bits_to_code(bits)
        if quality >= MIN_QUALITY and code not in seen:
            seen.add(code)
            parts.append(Variant(name, code, int(quality)))
    return parts
