"""Extra pdq hashes: the query-side candidates an upload may match under, beyond its
own, and the bank-side parts an original banked from media is stored with.

Banks hold the hash of each original only (StopNCII sends one pdq per image), and
re-uploaders mirror, rotate, pad, letterbox, screenshot or frame the picture. So the
robustness comes from the query side: for each upload, besides its own hash,

- the eight dihedral orientations (rotations by 90 degrees, mirrors), which the
  reference pdq derives from one DCT at no extra cost;
- the picture with uniform borders trimmed (padding, letterbox and pillarbox bars), and
  with opposite bars made equal when the trim ate into a dark or light edge of it;
- the photo inside a canvas (a screenshot of an app or a web page, a meme frame), found
  by cutting the canvas along its uniform rows and columns;
- the picture with caption bands filled in from the rows around them, which brings a
  captioned copy back within pdq's reach of the original more often than not;
- the picture padded out as if it were a crop of 5% of each side, its edges repeated
  outward, with the cut placed on a grid of positions (`uncropped1.2:mirrored`): pdq
  sees mostly the picture's layout, which the padding puts back where the original had
  it;
- the picture turned back by a small rotation (`unrotated:original`), when its corners
  show the four triangles of one colour that turning a picture within its own frame
  leaves, from whose legs the angle is read;

each in eight orientations (the padded and turned-back ones in fewer).

Every extra candidate is one more chance of a false match, so the policy treats them
more strictly than the upload's own hash (see `app/policy.py`): only candidates of
quality at least 50 are searched, and derived orientations count only within the bank's
match distance, never its review band. The regions are found on a small grey copy of the
picture; the hashes are computed on the working image.

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
from math import ceil, floor

import cv2
import numpy as np

from matcher.candidates import (
    MIN_QUALITY,
    MIN_TURNED_QUALITY,
    UNCROPPED,
    UNROTATED,
    Variant,
)
from matcher.decode import shrink
from matcher.pdq_kernel import pdq_code, pdq_dihedral

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
#: Regions are looked for on a grey copy this large.
ANALYSIS_SIDE = 384
#: A trimmed or inner region smaller than this share of the picture is not a candidate.
MIN_REGION_SHARE = 0.2
#: A line of a border, a bar or a canvas is within this many grey levels of its colour
#: over this share of its pixels (JPEG leaves a little noise).
BORDER_TOLERANCE = 8.0
BORDER_COVER = 0.97
#: A canvas is cut only along lines of a colour within this many grey levels of one it
#: shows at its outer edge: an app's background is exactly flat, a photo's white or
#: black stretches rarely the very same grey.
CANVAS_TOLERANCE = 2.5
#: A caption band's colour covers at least this share of each of its rows; a heavy line
#: of text may break that over this share of the height; bands from 3% to 40% of the
#: height are filled, widened by a margin of rows.
BAND_COVER = 0.5
BAND_GAP = 0.03
CAPTION_SHARES = (0.03, 0.4)
BAND_MARGIN = 2
#: The bank's `uncaptioned` parts fill bands on a grid of cells of this share of the
#: height, spanning these many cells (captions of about 5% to 25% of the height).
BAND_CELL = 0.05
BAND_CELLS = range(2, 7)
#: A region must leave out at least this share of the picture to be worth a candidate.
MIN_REMOVED_SHARE = 0.04
#: The least share of a picture that is not flat for it to have extra candidates and
#: parts: pdq rates a flat drawing's few sharp edges as highly as a photo, and simple
#: shapes (circles, rounded boxes, cylinders) collide across unrelated drawings. Camera
#: photos measure 0.5 to 0.9; flat clip art 0.05 to 0.35 (`benchmarks/variant_bench.py`).
MIN_DETAIL = 0.15
#: The `uncropped` candidates pad the upload back to the size of an original it would be
#: a crop of, with this share of each side cut, placed on a grid of UNCROP_STEPS
#: positions per axis (the cut all at the top, split evenly, all at the bottom; the same
#: across). Measured on 536 real photos of quality >= 50 (wallpapers, opencv-doc) cut 5%
#: at a random position: the crop's own hash is 68 bits from the original's at the
#: median (0.6% within 31); padded evenly only, 54 (11%); the best of the grid, 34 (41%
#: within 31, 82% within 47). For 10% cuts padding helps little (3% within 31), so one
#: share. Hashed on a copy UNCROP_SIDE large (41% within 31 at 256 px, 40% at 512, for
#: under half the time), in the upload's own orientation and mirrored only (a mirrored
#: crop is common; the other turns of a crop are not): 18 candidates.
UNCROP_SHARE = 0.05
UNCROP_STEPS = 3
UNCROP_SIDE = 256
UNCROP_ORIENTATIONS = ("original", "mirrored")
#: The `unrotated` candidate: a picture turned by up to UNROTATE_DEGREES within its own
#: frame has four corner triangles of one colour (within BORDER_TOLERANCE), each between
#: UNROTATE_LEG pixels and the whole side along both edges of a copy UNROTATE_SIDE large,
#: and whose angles agree within UNROTATE_SPREAD degrees. Measured on 60 real photos
#: turned by 2 to 8 degrees either way and saved as JPEG: the angle was read on 51-52 of
#: them, within 0.1-0.2 degrees at the median (the others have dark corners the fill
#: leaks into, and are refused); the picture turned back, its lost corners filled with
#: the nearest pixels, came within 31 bits of the original's hash for 57-77% of all 60
#: (the turned upload's own hash, for none). No unturned photo of 108 showed corners.
UNROTATE_DEGREES = 15.0
UNROTATE_SIDE = 512
UNROTATE_LEG = 3
UNROTATE_SPREAD = 2.0


@dataclass(frozen=True, slots=True)
class Grey:
    """A picture's grey values and their copy at most `ANALYSIS_SIDE` pixels wide: what
    the detail measure, the views and the caption bands look at, made once a picture."""

    full: np.ndarray
    small: np.ndarray

    @classmethod
    def of(cls, rgb: np.ndarray) -> Grey:
        full = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY) if rgb.ndim == 3 else rgb
        return cls(full, shrink(full, ANALYSIS_SIDE))


Box = tuple[int, int, int, int]  # top, bottom, left, right (exclusive ends)


def dihedral(rgb: np.ndarray, region: str = "whole") -> list[Variant]:
    """The eight orientations of a picture (or of a region of it), from one DCT."""
    codes, quality = pdq_dihedral(rgb)
    prefix = "" if region == "whole" else f"{region}:"
    return [
        Variant(f"{prefix}{orientation}", code, quality)
        for orientation, code in zip(ORIENTATIONS, codes, strict=True)
    ]


def _share_near(
    lines: np.ndarray, colour: float, tolerance: float = BORDER_TOLERANCE
) -> np.ndarray:
    """The share of a line's pixels within `tolerance` grey levels of `colour`; of each
    row's, given rows."""
    return (np.abs(np.asarray(lines, dtype=np.float32) - colour) <= tolerance).mean(axis=-1)


def _line_is_border(line: np.ndarray, colour: float, tolerance: float) -> bool:
    return bool(_share_near(line, colour, tolerance) >= BORDER_COVER)


def trim_box(gray: np.ndarray, tolerance: float = BORDER_TOLERANCE) -> Box:
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
    # Lines are measured a block at a time (a line at a time in Python took 12 ms on a
    # padded 1024x768 upload); columns as the rows of the transposed image.
    if "top" in colours:
        top = min(_bar(values, colours["top"], tolerance), height - 1)
    if "bottom" in colours:
        bottom = height - _bar(values[top + 1 :][::-1], colours["bottom"], tolerance)
    if "left" in colours:
        left = min(_bar(values[top:bottom].T, colours["left"], tolerance), width - 1)
    if "right" in colours:
        right = width - _bar(values[top:bottom, left + 1 :].T[::-1], colours["right"], tolerance)
    return top, bottom, left, right


def _bar(lines: np.ndarray, colour: float, tolerance: float) -> int:
    """How many rows of `lines`, from the first, are border lines of `colour`
    (`_line_is_border`). Blocks grow from 8 rows: most bars are narrow."""
    done, block = 0, 8
    while done < len(lines):
        short = np.flatnonzero(
            _share_near(lines[done : done + block], colour, tolerance) < BORDER_COVER
        )
        if len(short):
            return done + int(short[0])
        done, block = done + block, 2 * block
    return len(lines)


def _line_shares(gray: np.ndarray, axis: int) -> tuple[np.ndarray, np.ndarray]:
    """For each row (axis 1) or column (axis 0) of a grey image (uint8): the share of its
    pixels within `BORDER_TOLERANCE` of its median colour, and that colour. A line of a
    border is one colour (`BORDER_COVER`); a caption band's, over `BAND_COVER`."""
    # The median of uint8 values (a whole or half grey level, exact in any float) is
    # found faster than of their float copy.
    colours = np.median(gray, axis=axis)
    spread = np.abs(gray - np.expand_dims(colours, axis))
    return (spread <= BORDER_TOLERANCE).mean(axis=axis), colours


def _longest_run(content: np.ndarray) -> tuple[int, int]:
    """The longest run of True in a 1-D mask, as (start, end); (0, 0) when none."""
    edges = np.diff(np.concatenate([[0], content.astype(np.int8), [0]]))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    if not len(starts):
        return 0, 0
    longest = int(np.argmax(ends - starts))
    return int(starts[longest]), int(ends[longest])


def centred_box(gray: np.ndarray, trimmed: Box) -> Box | None:
    """The trimmed box with opposite bars of one colour made as narrow as the narrower
    of the two, or None when they already are: letterboxing and square-fit apps centre
    the picture, and a picture whose own edge is as dark (or light) as the bar loses
    rows to the trim on that side only."""
    top, bottom, left, right = trimmed
    height, width = gray.shape

    def same_colour(a: np.ndarray, b: np.ndarray) -> bool:
        return bool(abs(float(np.median(a)) - float(np.median(b))) <= CANVAS_TOLERANCE)

    if min(top, height - bottom) > 0 and same_colour(gray[0], gray[-1]):
        bar = min(top, height - bottom)
        top, bottom = bar, height - bar
    if min(left, width - right) > 0 and same_colour(gray[:, 0], gray[:, -1]):
        bar = min(left, width - right)
        left, right = bar, width - bar
    centred = (top, bottom, left, right)
    return None if centred == trimmed else centred


def inner_box(gray: np.ndarray) -> Box | None:
    """The box of the picture inside a canvas (a screenshot of an app or a web page, a
    meme frame), or None: the largest block left by recursive XY cuts.

    As document layout analysis splits a page, the canvas is cut along rows, then
    columns, of one colour, keeping the longest run between cuts each time, until no cut
    is left: headers, margins and lines of text fall away and the photo remains. Only
    lines of a colour the canvas shows at its outer edge are cuts, so a photo's own flat
    stretches (a dark band of sky, a drawing's background) do not split it; a picture
    with no uniform outer edge has no canvas, and no candidate.
    """
    canvas = []
    # Only the outer lines tell the canvas's colours: measure those alone.
    for axis, outer in ((1, gray[[0, -1]]), (0, gray[:, [0, -1]])):
        shares, colours = _line_shares(outer, axis)
        canvas += [
            float(colour)
            for share, colour in zip(shares, colours, strict=True)
            if share >= BORDER_COVER
        ]
    if not canvas:
        return None
    box = (0, gray.shape[0], 0, gray.shape[1])
    while True:
        top, bottom, left, right = box
        for axis in (1, 0):
            shares, colours = _line_shares(gray[top:bottom, left:right], axis)
            near_canvas = np.abs(colours[:, None] - np.array(canvas)) <= CANVAS_TOLERANCE
            start, end = _longest_run(~((shares >= BORDER_COVER) & near_canvas.any(axis=1)))
            if end <= start:
                return None
            if axis == 1:
                top, bottom = top + start, top + end
            else:
                left, right = left + start, left + end
        if (top, bottom, left, right) == box:
            return box
        box = (top, bottom, left, right)


def caption_bands(gray: np.ndarray, small: np.ndarray | None = None) -> list[tuple[int, int]]:
    """The rows (start, end) of each caption band across a grey image: a band of one
    colour with a line of text on it, over the top, the bottom or the middle.

    A band's rows share one colour over at least half of their pixels (text strokes
    cover the rest) and its margins above and below the text are flat. Found on a small
    copy, then settled at full resolution and widened by a couple of rows, since JPEG
    smears the band's edge into the picture. `small` is the copy of `gray` at most
    `ANALYSIS_SIDE` pixels wide, when the caller has made it already.
    """
    small = shrink(gray, ANALYSIS_SIDE) if small is None else small
    height = small.shape[0]
    cover, colours = _line_shares(small, 1)
    runs: list[tuple[int, int, float]] = []  # start, end, colour
    row = 0
    while row < height:
        if cover[row] < BAND_COVER:
            row += 1
            continue
        colour, end = colours[row], row
        while (
            end < height
            and cover[end] >= BAND_COVER
            and abs(colours[end] - colour) <= BORDER_TOLERANCE
        ):
            end += 1
        # A heavy line of text can break a band in two: rejoin across short gaps.
        if (
            runs
            and abs(runs[-1][2] - colour) <= BORDER_TOLERANCE
            and row - runs[-1][1] <= max(2, BAND_GAP * height)
        ):
            runs[-1] = (runs[-1][0], end, runs[-1][2])
        else:
            runs.append((row, end, float(colour)))
        row = end
    factor = gray.shape[0] / height
    bands = []
    for first, last, colour in runs:
        covers = cover[first:last]
        if (
            CAPTION_SHARES[0] * height <= last - first <= CAPTION_SHARES[1] * height
            and (covers >= BORDER_COVER).any()  # flat margins
            and (covers < 0.9).any()  # and text
        ):
            bands.append(_settled(gray, int(first * factor), ceil(last * factor), colour))
    return bands


def _settled(gray: np.ndarray, top: int, bottom: int, colour: float) -> tuple[int, int]:
    """A band's rows found on a small copy, grown at full resolution to every row of its
    colour and by `BAND_MARGIN` more."""
    height = gray.shape[0]

    def in_band(row: int) -> bool:
        return bool(_share_near(gray[row], colour) >= BAND_COVER)

    bottom = min(bottom, height)
    while top > 0 and in_band(top - 1):
        top -= 1
    while bottom < height and in_band(bottom):
        bottom += 1
    return max(0, top - BAND_MARGIN), min(height, bottom + BAND_MARGIN)


def fill_bands(rgb: np.ndarray, bands: Iterable[tuple[int, int]]) -> np.ndarray:
    """The picture with each band of rows replaced by a blend, row by row, of the rows
    just above and below it (or a copy of the one that exists, at an edge): the closest
    guess of what the caption hides, for the few low frequencies pdq keeps."""
    out = rgb.astype(np.float32)
    height = rgb.shape[0]
    for start, end in bands:
        if start <= 0 and end >= height:
            continue
        above = out[start - 1] if start > 0 else out[end]
        below = out[end] if end < height else above
        weights = np.linspace(0, 1, end - start + 2, dtype=np.float32)[1:-1, None, None]
        out[start:end] = (1 - weights) * above + weights * below
    return out.round().astype(np.uint8)


def grid_band(band: tuple[int, int], height: int) -> tuple[int, int] | None:
    """A band widened to whole cells of the grid the bank's `uncaptioned` parts are
    filled on, as cell numbers; None when it spans more cells than they do."""
    start = floor(band[0] / height / BAND_CELL + 1e-6)
    end = ceil(band[1] / height / BAND_CELL - 1e-6)
    return (start, end) if end - start in BAND_CELLS else None


def grid_rows(cells: tuple[int, int], height: int) -> tuple[int, int]:
    """The rows of a band of grid cells in a picture `height` rows high."""
    return round(cells[0] * BAND_CELL * height), round(cells[1] * BAND_CELL * height)


def detail(rgb: np.ndarray, grey: Grey | None = None) -> float:
    """The share of a picture that is not flat: where the grey values spread by more
    than 4 over 5x5 pixels of a copy at most `ANALYSIS_SIDE` pixels wide, as sensor noise
    and texture do everywhere in a photo and a flat drawing does only along its edges,
    and do not merely ramp: a smooth gradient (an icon's bevel, a shaded button) spreads
    as much, but its grey values bend by 2 or less (the Laplacian) everywhere in the 5x5.
    Measured: a grey beveled icon 0.21 by spread alone, 0.11 with the bend; real photos
    and their copies unchanged (`benchmarks/RESULTS.md`, "Variants"). `grey` is the
    picture's `Grey`, when the caller has made it."""
    gray = (grey or Grey.of(rgb)).small
    kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (5, 5))
    spread = cv2.dilate(gray, kernel).astype(np.int16) - cv2.erode(gray, kernel)
    bend = cv2.dilate(np.abs(cv2.Laplacian(gray, cv2.CV_16S, ksize=1)), kernel)
    return float(((spread > 4) & (bend > 2)).mean())


def is_detailed(rgb: np.ndarray, grey: Grey | None = None) -> bool:
    """Whether a picture has enough detail for extra candidates and parts."""
    return detail(rgb, grey) >= MIN_DETAIL


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


def views(rgb: np.ndarray, grey: Grey | None = None) -> dict[str, np.ndarray]:
    """The pictures candidates are hashed from, each when it differs enough from the
    upload: `trimmed` (uniform borders removed), `centred` (the trimmed box with opposite
    bars made equal, when they were not), `inner` (the photo in a canvas),
    `uncaptioned` (caption bands filled in) and `uncaptioned_wide` (a single band widened
    to the grid of the bank's `uncaptioned` parts)."""
    grey = grey or Grey.of(rgb)
    gray, small = grey.full, grey.small
    found: dict[str, np.ndarray] = {}
    # A sliver of border left in moves pdq by tens of bits: trim at full resolution.
    trimmed = trim_box(gray)
    if worth_a_candidate(trimmed, gray.shape):
        found["trimmed"] = _crop(rgb, trimmed)
        centred = centred_box(gray, trimmed)
        if centred is not None and worth_a_candidate(centred, gray.shape):
            found["centred"] = _crop(rgb, centred)
    inner = inner_box(small)
    if inner is not None and worth_a_candidate(inner, small.shape):
        # Found on the small copy; its edges are then settled at full resolution.
        top, bottom, left, right = _scaled(
            _grown(inner, 1), gray.shape[0] / small.shape[0], gray.shape
        )
        edges = trim_box(gray[top:bottom, left:right])
        inner = (top + edges[0], top + edges[1], left + edges[2], left + edges[3])
        if worth_a_candidate(inner, gray.shape) and inner != trimmed:
            found["inner"] = _crop(rgb, inner)
    bands = caption_bands(gray, small)
    if bands:
        found["uncaptioned"] = fill_bands(rgb, bands)
        cells = grid_band(bands[0], gray.shape[0]) if len(bands) == 1 else None
        if cells is not None:
            found["uncaptioned_wide"] = fill_bands(rgb, [grid_rows(cells, gray.shape[0])])
    return found


def uncropped(rgb: np.ndarray) -> list[Variant]:
    """The `uncropped` candidates (`uncropped1.0:mirrored`: the cut placed at grid row
    1, column 0): the picture, shrunk to UNCROP_SIDE, padded to the size of an original
    it would be a crop of (UNCROP_SHARE of each side cut) by repeating its edge pixels
    outward, in UNCROP_ORIENTATIONS."""
    small = shrink(rgb, UNCROP_SIDE)
    height, width = small.shape[:2]
    extra_h = round(height / (1 - UNCROP_SHARE)) - height
    extra_w = round(width / (1 - UNCROP_SHARE)) - width
    positions = np.linspace(0, 1, UNCROP_STEPS)
    found = []
    for row, down in enumerate(positions):
        for column, across in enumerate(positions):
            top, left = round(extra_h * down), round(extra_w * across)
            padded = cv2.copyMakeBorder(
                small, top, extra_h - top, left, extra_w - left, cv2.BORDER_REPLICATE
            )
            found += [
                v
                for v in dihedral(padded, f"{UNCROPPED}{row}.{column}")
                if v.name.endswith(UNCROP_ORIENTATIONS)
            ]
    return found


#: Each corner (row, column) and whether a longer leg along its row than along its
#: column means the picture was turned clockwise (at the top-left, counter-clockwise: its
#: top edge rises to the right).
_CORNERS = ((0, 0, False), (0, -1, True), (-1, 0, True), (-1, -1, False))


def rotation_corners(gray: np.ndarray) -> tuple[float, np.ndarray] | None:
    """The angle (degrees, counter-clockwise) a picture was turned by within its own
    frame, and the mask of the corner triangles the turn filled; None when its corners
    do not show one (see UNROTATE_DEGREES)."""
    height, width = gray.shape
    values = [int(gray[row, column]) for row, column, _ in _CORNERS]
    if max(values) - min(values) > BORDER_TOLERANCE:
        return None
    fill = np.zeros((height + 2, width + 2), np.uint8)
    flags = 4 | cv2.FLOODFILL_FIXED_RANGE | cv2.FLOODFILL_MASK_ONLY | (255 << 8)
    for row, column, _ in _CORNERS:
        seed = (column % width, row % height)
        cv2.floodFill(gray, fill, seed, 0, BORDER_TOLERANCE, BORDER_TOLERANCE, flags)
    mask = fill[1:-1, 1:-1] > 0
    angles = []
    # Each corner's legs: along its row, then along its column, from the corner inward.
    for row, column, clockwise_when_longer in _CORNERS:
        along_row = mask[row, :] if column == 0 else mask[row, ::-1]
        along_column = mask[:, column] if row == 0 else mask[::-1, column]
        if along_row.all() or along_column.all():
            return None  # a bar or a plain ground, not a corner
        legs = int(np.argmin(along_row)), int(np.argmin(along_column))
        if min(legs) < UNROTATE_LEG:
            return None
        angle = np.degrees(np.arctan(min(legs) / max(legs)))
        turned_clockwise = (legs[0] > legs[1]) == clockwise_when_longer
        angles.append(-angle if turned_clockwise else angle)
    if max(angles) - min(angles) > UNROTATE_SPREAD or abs(np.median(angles)) > UNROTATE_DEGREES:
        return None
    return float(np.median(angles)), mask


def unrotated(rgb: np.ndarray) -> list[Variant]:
    """The `unrotated:original` candidate: the picture turned back by the small rotation
    its corners show (`rotation_corners`), cut to the original's frame, with the corners
    the turn cut off filled with the nearest pixels; none when its corners show none."""
    # Most pictures' corners differ: tell so from four pixels before shrinking a copy.
    corners = np.array([rgb[row, column] for row, column, _ in _CORNERS], np.int16)
    if np.ptp(corners, axis=0).max() > 2 * BORDER_TOLERANCE:
        return []
    small = shrink(rgb, UNROTATE_SIDE)
    found = rotation_corners(cv2.cvtColor(small, cv2.COLOR_RGB2GRAY))
    if found is None:
        return []
    angle, filled = found
    height, width = filled.shape
    back = cv2.getRotationMatrix2D((width / 2, height / 2), -angle, 1.0)
    picture = cv2.warpAffine(small, back, (width, height))
    shown = cv2.warpAffine((~filled).astype(np.uint8) * 255, back, (width, height)) > 127
    rows, columns = np.nonzero(shown)
    if not len(rows):
        return []  # a sliver of a picture (a tiny one), nothing to turn back
    box = rows.min(), rows.max() + 1, columns.min(), columns.max() + 1
    code, quality = pdq_code(_nearest_filled(_crop(picture, box), _crop(shown, box)))
    return [Variant(f"{UNROTATED}:original", code, quality)]


def _nearest_filled(rgb: np.ndarray, shown: np.ndarray) -> np.ndarray:
    """`rgb` with the pixels not `shown` set to the nearest shown pixel's colour."""
    _, labels = cv2.distanceTransformWithLabels(
        (~shown).astype(np.uint8), cv2.DIST_L2, 3, labelType=cv2.DIST_LABEL_PIXEL
    )
    # Labels number the shown pixels in scan order, from 1.
    rows, columns = np.nonzero(shown)
    nearest = labels[~shown] - 1
    out = rgb.copy()
    out[~shown] = rgb[rows[nearest], columns[nearest]]
    return out


def _crop(rgb: np.ndarray, box: Box) -> np.ndarray:
    top, bottom, left, right = box
    return rgb[top:bottom, left:right]


def pdq_variants(
    rgb: np.ndarray, candidates: bool = True, grey: Grey | None = None
) -> list[Variant]:
    """Every candidate of an RGB image, its own hash (`original`) first; candidates
    under `MIN_QUALITY` are left out, except the original and the whole picture's other
    orientations down to `MIN_TURNED_QUALITY`. Without `candidates` (a picture that is
    not `is_detailed`), the original only. `grey` is the image's `Grey`, when the caller
    has made it (to tell `is_detailed`)."""
    found = dihedral(rgb, "whole")
    if not candidates:
        return found[:1]
    turned = [v for v in found[1:] if v.quality >= MIN_TURNED_QUALITY]
    pictures = views(rgb, grey)
    views_found = [v for name, picture in pictures.items() for v in dihedral(picture, name)]
    views_found += uncropped(rgb) + unrotated(rgb)
    return [found[0], *turned, *(v for v in views_found if v.quality >= MIN_QUALITY)]


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
    derived: dict[str, np.ndarray] | None = None
    found = []
    for name in names:
        view, _, orientation = name.rpartition(":")
        if orientation not in UNDO:
            continue
        picture = rgb
        if view:
            derived = views(rgb) if derived is None else derived
            if view not in derived:
                continue
            picture = derived[view]
        code, quality = pdq_code(UNDO[orientation](picture))
        found.append(Variant(name, code, quality))
    return found


#: Crops banked from media: the share of each side kept, and the grid of positions (per
#: axis) they are taken at. Steps of about 2% of the side keep a crop anywhere in between
#: within pdq's reach of one of them.
CROP_GRID = {0.97: 3, 0.95: 4, 0.925: 5, 0.9: 6, 0.875: 7, 0.85: 8}
#: Parts are hashed on a copy of the picture this large: as close to the upload's hash as
#: at full size (measured on crops, bands and rotations), for a sixth of the time.
PARTS_SIDE = 512
#: The height of the strip cut off the top or bottom (a caption band cropped away).
BAND_SHARE = 0.15
#: Small rotations banked, in degrees (the corners filled black, as editors do); pdq
#: moves by tens of bits between whole degrees on a detailed picture.
SMALL_ROTATIONS = tuple(float(d) for d in range(-6, 7) if d)


def bank_parts(rgb: np.ndarray) -> list[Variant]:
    """The parts an original banked from media is stored with: crops on a grid
    (`crop90:2.5`: 90% of each side kept, grid row 2, column 5; steps of 2.5% from 97%
    to 85%), the picture with a strip cut off its top or bottom (`cut:top`), with a band
    of it filled in as `fill_bands` fills a caption (`uncaptioned:3-6`: from 15% to 30%
    of the height; an upload's `uncaptioned_wide` candidate fills its caption on the same
    grid, so the two agree but for the upload's own edits), and small rotations
    (`rotated:+2`). Weak parts (quality under MIN_QUALITY) and repeats are left out."""
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
    cells = round(1 / BAND_CELL)
    for span in BAND_CELLS:
        for first in range(cells - span + 1):
            filled = fill_bands(rgb, [grid_rows((first, first + span), height)])
            pictures[f"uncaptioned:{first}-{first + span}"] = filled
    for degrees in SMALL_ROTATIONS:
        matrix = cv2.getRotationMatrix2D((width / 2, height / 2), degrees, 1.0)
        pictures[f"rotated:{degrees:+.0f}"] = cv2.warpAffine(rgb, matrix, (width, height))
    parts, seen = [], set()
    for name, picture in pictures.items():
        code, quality = pdq_code(picture)
        if quality >= MIN_QUALITY and code not in seen:
            seen.add(code)
            parts.append(Variant(name, code, quality))
    return parts
