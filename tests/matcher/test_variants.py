"""Query-side candidates: a mirrored, rotated, padded or framed upload still finds the
original's pdq."""

from __future__ import annotations

import cv2
import numpy as np
import pdqhash
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.demo import sample_image
from matcher.candidates import MIN_QUALITY, MIN_TURNED_QUALITY, Variant
from matcher.limits import Limits
from matcher.media import hash_file
from matcher.signals import Media, PerceptualSignalType, Signal, default_registry
from matcher.variants import (
    BORDER_COVER,
    BORDER_TOLERANCE,
    MIN_DETAIL,
    ORIENTATIONS,
    bank_parts,
    caption_bands,
    centred_box,
    detail,
    inner_box,
    pdq_variants,
    rotation_corners,
    trim_box,
    uncropped,
    unrotated,
    views,
)


def reference(rgb: np.ndarray) -> bytes:
    bits, _ = pdqhash.compute(np.ascontiguousarray(rgb))
    return PerceptualSignalType.bits_to_code(bits)


def distance(a: bytes, b: bytes) -> int:
    return (int.from_bytes(a, "big") ^ int.from_bytes(b, "big")).bit_count()


def best(rgb: np.ndarray, original: bytes) -> tuple[str, int]:
    found = pdq_variants(rgb)
    closest = min(found, key=lambda v: distance(v.code, original))
    return closest.name, distance(closest.code, original)


ORIGINAL = sample_image(11, (480, 640))


def test_the_first_candidate_is_the_reference_hash() -> None:
    first = pdq_variants(ORIGINAL)[0]
    assert first.name == "original" and first.code == reference(ORIGINAL)


@pytest.mark.parametrize(
    ("transform", "expected"),
    [
        (lambda im: im[:, ::-1], "mirrored"),
        (lambda im: np.rot90(im, 2), "rotated_180"),
        (lambda im: np.rot90(im, 1), "rotated_90_ccw"),
        (lambda im: np.rot90(im, -1), "rotated_90_cw"),
        (lambda im: im.transpose(1, 0, 2), "transposed"),
        (lambda im: im[::-1], "flipped"),
    ],
)
def test_every_orientation_is_found(transform, expected: str) -> None:  # type: ignore[no-untyped-def]
    original = reference(ORIGINAL)
    upload = np.ascontiguousarray(transform(ORIGINAL))
    name, bits = best(upload, original)
    assert name == expected and bits <= 31
    assert distance(reference(upload), original) > 64  # plain pdq misses it


def test_padding_and_letterbox_are_trimmed() -> None:
    original = reference(ORIGINAL)
    padded = cv2.copyMakeBorder(ORIGINAL, 40, 90, 120, 10, cv2.BORDER_CONSTANT, value=(30, 200, 90))
    assert trim_box(cv2.cvtColor(padded, cv2.COLOR_RGB2GRAY)) == (40, 520, 120, 760)
    name, bits = best(padded, original)
    assert name == "trimmed:original" and bits <= 16
    boxed = cv2.copyMakeBorder(ORIGINAL, 200, 200, 0, 0, cv2.BORDER_CONSTANT, value=(0, 0, 0))
    assert best(boxed, original)[1] <= 16
    mirrored_padded = np.ascontiguousarray(padded[:, ::-1])
    assert best(mirrored_padded, original)[0] == "trimmed:mirrored"


def line_by_line_trim(gray: np.ndarray) -> tuple[int, int, int, int]:
    """The trim as its docstring reads, one line at a time: each side whose outer edge is
    one colour loses the lines of that colour, top, bottom, left, right in turn."""

    def border(line: np.ndarray, colour: float) -> bool:
        return float(np.mean(np.abs(line.astype(np.float32) - colour) <= BORDER_TOLERANCE)) >= (
            BORDER_COVER
        )

    def edge_colour(line: np.ndarray) -> float | None:
        colour = float(np.median(line.astype(np.float32)))
        return colour if border(line, colour) else None

    height, width = gray.shape
    top, bottom, left, right = 0, height, 0, width
    colours = [edge_colour(e) for e in (gray[0], gray[-1], gray[:, 0], gray[:, -1])]
    while colours[0] is not None and top < bottom - 1 and border(gray[top], colours[0]):
        top += 1
    while colours[1] is not None and bottom - 1 > top and border(gray[bottom - 1], colours[1]):
        bottom -= 1
    while (
        colours[2] is not None and left < right - 1 and border(gray[top:bottom, left], colours[2])
    ):
        left += 1
    while (
        colours[3] is not None
        and right - 1 > left
        and border(gray[top:bottom, right - 1], colours[3])
    ):
        right -= 1
    return top, bottom, left, right


@settings(max_examples=150, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    bars=st.tuples(*[st.integers(0, 70)] * 4),
    colour=st.integers(0, 255),
    noise=st.sampled_from([0, 3, 12]),
    flat=st.booleans(),
)
def test_trim_box_is_the_line_by_line_trim(
    seed: int, bars: tuple[int, int, int, int], colour: int, noise: int, flat: bool
) -> None:
    """Measured a block of lines at a time, the trim finds what a line at a time does:
    bars of any width (the whole image too), noisy bars, pictures as flat as a bar."""
    rng = np.random.default_rng(seed)
    picture = (
        np.full((40, 50), colour, np.uint8)
        if flat
        else rng.integers(0, 256, (int(rng.integers(1, 60)), int(rng.integers(1, 60))), np.uint8)
    )
    top, bottom, left, right = bars
    gray = cv2.copyMakeBorder(picture, top, bottom, left, right, cv2.BORDER_CONSTANT, value=colour)
    gray = np.clip(gray + rng.integers(-noise, noise + 1, gray.shape), 0, 255).astype(np.uint8)
    assert trim_box(gray) == line_by_line_trim(gray)


def test_a_letterboxed_picture_with_a_dark_edge_is_centred() -> None:
    """The trim eats the picture's own black rows along with the bar below them; the
    letterbox centred the picture, so the bars were equal."""
    dark_edged = ORIGINAL.copy()
    dark_edged[-60:] = 0
    original = reference(dark_edged)
    boxed = cv2.copyMakeBorder(dark_edged, 200, 200, 0, 0, cv2.BORDER_CONSTANT, value=(0, 0, 0))
    gray = cv2.cvtColor(boxed, cv2.COLOR_RGB2GRAY)
    trimmed = trim_box(gray)
    assert trimmed == (200, 620, 0, 640)  # 60 rows of the picture lost with the bar
    assert centred_box(gray, trimmed) == (200, 680, 0, 640)
    name, bits = best(boxed, original)
    assert name == "centred:original" and bits <= 8
    # Bars of different colours are not a letterbox: nothing to centre.
    padded = cv2.copyMakeBorder(dark_edged, 200, 0, 0, 0, cv2.BORDER_CONSTANT, value=(255,) * 3)
    padded = cv2.copyMakeBorder(padded, 0, 200, 0, 0, cv2.BORDER_CONSTANT, value=(0, 0, 0))
    gray = cv2.cvtColor(padded, cv2.COLOR_RGB2GRAY)
    assert centred_box(gray, trim_box(gray)) is None


def test_a_photo_inside_an_app_frame_is_found() -> None:
    original = reference(ORIGINAL)
    canvas = np.full((900, 760, 3), 245, np.uint8)
    canvas[:70] = (40, 90, 200)
    cv2.putText(canvas, "Photos", (20, 50), cv2.FONT_HERSHEY_SIMPLEX, 1.2, (255, 255, 255), 2)
    canvas[100:580, 60:700] = ORIGINAL
    for line in range(4):
        cv2.putText(canvas, "liked by 1,204 people", (20, 640 + 60 * line),
                    cv2.FONT_HERSHEY_SIMPLEX, 0.9, (30, 30, 30), 2)  # fmt: skip
    box = inner_box(cv2.cvtColor(canvas, cv2.COLOR_RGB2GRAY))
    assert box is not None
    top, bottom, left, right = box
    assert abs(top - 100) <= 8 and abs(bottom - 580) <= 8
    assert abs(left - 60) <= 8 and abs(right - 700) <= 8
    name, bits = best(canvas, original)
    assert name.startswith("inner:") and bits <= 24


def test_flat_images_give_no_extra_candidates() -> None:
    flat = np.full((300, 400, 3), 128, np.uint8)
    flat[100:200, 100:300] = 140
    found = pdq_variants(flat)
    assert found[0].name == "original"
    assert found[0].quality < MIN_TURNED_QUALITY and len(found) == 1


def test_a_picture_a_little_weak_keeps_its_orientations_but_no_views() -> None:
    """A copy of a strong original re-encoded or darkened a little rates under 50: its
    mirror still counts (for review, by the policy), derived views do not."""
    dim = (np.pad(ORIGINAL, ((60, 60), (0, 0), (0, 0))) * 0.34).astype(np.uint8)
    assert "trimmed" in views(dim)
    found = pdq_variants(dim)
    assert MIN_TURNED_QUALITY <= found[0].quality < MIN_QUALITY
    assert [v.name for v in found] == list(ORIENTATIONS)
    mirrored = reference(np.ascontiguousarray(dim[:, ::-1]))
    assert distance(next(v.code for v in found if v.name == "mirrored"), mirrored) <= 8


def test_turned_back_orientations_give_the_original_hash() -> None:
    from matcher.variants import UNDO, exact_variants

    original = reference(ORIGINAL)
    uploads = {
        "mirrored": ORIGINAL[:, ::-1],
        "rotated_90_ccw": np.rot90(ORIGINAL, 1),
        "rotated_90_cw": np.rot90(ORIGINAL, -1),
        "rotated_180": np.rot90(ORIGINAL, 2),
        "flipped": ORIGINAL[::-1],
        "transposed": ORIGINAL.transpose(1, 0, 2),
        "transversed": np.rot90(ORIGINAL, 2).transpose(1, 0, 2),
    }
    assert set(uploads) | {"original"} == set(UNDO)
    for name, upload in uploads.items():
        (exact,) = exact_variants(np.ascontiguousarray(upload), [name])
        # Lossless: turned back, these are the original's own pixels.
        assert (exact.name, distance(exact.code, original)) == (name, 0)
    padded = cv2.copyMakeBorder(
        np.ascontiguousarray(ORIGINAL[:, ::-1]), 30, 30, 0, 0, cv2.BORDER_CONSTANT, value=0
    )
    (exact,) = exact_variants(padded, ["trimmed:mirrored"])
    assert distance(exact.code, original) == 0
    assert exact_variants(ORIGINAL, ["inner:mirrored", "bogus"]) == []


def closest_part(upload: np.ndarray, parts: list[Variant]) -> tuple[str, int]:
    code = reference(upload)
    found = min(parts, key=lambda p: distance(p.code, code))
    return found.name, distance(found.code, code)


def test_an_image_banked_from_media_has_parts_for_crops_bands_and_rotations() -> None:
    parts = bank_parts(ORIGINAL)
    names = [p.name for p in parts]
    assert len(names) == len(set(names)) and len({p.code for p in parts}) == len(parts)
    assert all(p.quality >= MIN_QUALITY for p in parts)
    assert {"cut:top", "cut:bottom", "uncaptioned:0-3", "rotated:+6"} <= set(names)
    height, width = ORIGINAL.shape[:2]
    # Crops off the grid: 7% and 13% of each side, off centre.
    for share, top_share, left_share in ((0.07, 0.2, 0.7), (0.13, 0.9, 0.35)):
        crop_h, crop_w = int(height * (1 - share)), int(width * (1 - share))
        top, left = int((height - crop_h) * top_share), int((width - crop_w) * left_share)
        cropped = ORIGINAL[top : top + crop_h, left : left + crop_w]
        name, bits = closest_part(cropped, parts)
        assert name.startswith("crop") and bits <= 31
        assert distance(reference(cropped), reference(ORIGINAL)) > 31  # plain pdq misses it
    matrix = cv2.getRotationMatrix2D((width / 2, height / 2), 4.0, 1.0)
    assert closest_part(cv2.warpAffine(ORIGINAL, matrix, (width, height)), parts)[1] <= 31


def captioned(rgb: np.ndarray, top: int, bottom: int, colour: int) -> np.ndarray:
    out = rgb.copy()
    out[top:bottom] = colour
    scale = (bottom - top) / 40
    cv2.putText(out, "when you see it", (30, top + (bottom - top) * 7 // 10),
                cv2.FONT_HERSHEY_SIMPLEX, scale, (255 - colour,) * 3, 2)  # fmt: skip
    return jpeg(out)


def jpeg(rgb: np.ndarray) -> np.ndarray:
    ok, data = cv2.imencode(".jpg", np.ascontiguousarray(rgb), [cv2.IMWRITE_JPEG_QUALITY, 90])
    assert ok
    return np.ascontiguousarray(cv2.imdecode(data, cv2.IMREAD_COLOR))


@pytest.mark.parametrize(
    ("top", "bottom", "colour"), [(0, 72, 255), (400, 480, 0), (190, 262, 255)]
)
def test_a_caption_band_is_found_and_filled_in(top: int, bottom: int, colour: int) -> None:
    upload = captioned(ORIGINAL, top, bottom, colour)
    gray = cv2.cvtColor(upload, cv2.COLOR_RGB2GRAY)
    ((start, end),) = caption_bands(gray)
    assert top - 4 <= start <= top and bottom <= end <= bottom + 4
    filled = views(upload)["uncaptioned"]
    assert (filled[:start] == upload[:start]).all() and (filled[end:] == upload[end:]).all()
    # Each filled row is a blend of the rows around the band: no trace of the text is left.
    around = upload[[max(0, start - 1), min(len(upload) - 1, end)]].astype(int)
    band = filled[start:end].astype(int)
    assert (band >= around.min(axis=0) - 1).all() and (band <= around.max(axis=0) + 1).all()
    original = reference(ORIGINAL)
    assert distance(reference(filled), original) < distance(reference(upload), original)
    # Widened to the grid, it agrees with a part of the original banked from media.
    wide = next(v for v in pdq_variants(upload) if v.name == "uncaptioned_wide:original")
    code, part = wide.code, closest_part_code(wide.code, bank_parts(ORIGINAL))
    assert part.name.startswith("uncaptioned:") and distance(code, part.code) <= 16


def closest_part_code(code: bytes, parts: list[Variant]) -> Variant:
    return min(parts, key=lambda p: distance(p.code, code))


def test_a_picture_without_a_band_or_a_canvas_has_no_such_candidates() -> None:
    assert caption_bands(cv2.cvtColor(ORIGINAL, cv2.COLOR_RGB2GRAY)) == []
    assert inner_box(cv2.cvtColor(ORIGINAL, cv2.COLOR_RGB2GRAY)) is None
    assert views(ORIGINAL) == {}


def test_a_cropped_upload_is_padded_back_towards_the_original() -> None:
    """A 5% crop moves pdq by tens of bits; padded back out to the original's size by
    repeating its edges, with the cut on a grid of positions, it comes within reach."""
    picture = sample_image(11, (480, 640))
    original = reference(picture)
    # A cut of 24 rows and 32 columns, wherever it falls: the padding goes where it was.
    for (top, left), cell in (
        ((0, 0), "0.0"),
        ((12, 16), "1.1"),
        ((24, 32), "2.2"),
        ((24, 0), "2.0"),
    ):
        cropped = np.ascontiguousarray(picture[top : top + 456, left : left + 608])
        assert distance(reference(cropped), original) > 50
        name, bits = best(cropped, original)
        assert name == f"uncropped{cell}:original" and bits <= 26
        name, bits = best(np.ascontiguousarray(cropped[:, ::-1]), original)
        assert name.startswith("uncropped") and name.endswith(":mirrored") and bits <= 26
    names = {v.name for v in uncropped(picture)}
    assert len(names) == 18 and "uncropped2.0:mirrored" in names


def test_a_photo_with_its_own_flat_stretch_is_not_cut_in_its_canvas() -> None:
    photo = ORIGINAL.copy()
    photo[200:230] = (20, 20, 20)  # a dark band of the photo's own, across its width
    canvas = np.full((700, 800, 3), 250, np.uint8)
    canvas[:60] = (200, 40, 40)
    canvas[110:590, 80:720] = photo
    cv2.putText(canvas, "12 comments", (20, 650), cv2.FONT_HERSHEY_SIMPLEX, 1.0, (30, 30, 30), 2)
    assert inner_box(cv2.cvtColor(canvas, cv2.COLOR_RGB2GRAY)) == (110, 590, 80, 720)


def shapes() -> np.ndarray:
    """A drawing of a few flat shapes, which pdq rates at quality 100 all the same."""
    drawing = np.zeros((400, 400, 3), np.uint8)
    cv2.circle(drawing, (200, 200), 150, (250, 250, 250), -1)
    cv2.rectangle(drawing, (60, 300), (340, 360), (40, 90, 200), -1)
    return drawing


def beveled() -> np.ndarray:
    """A grey button with a wide shaded bevel: smooth ramps, no texture."""
    side, edge = 400, 60
    ramp = np.minimum(np.arange(side), np.arange(side)[::-1])
    depth = np.minimum(np.minimum.outer(ramp, ramp), edge) / edge
    return np.repeat((120 + 110 * depth).astype(np.uint8)[:, :, None], 3, axis=2)


def test_a_flat_drawing_has_no_extra_candidates_or_parts() -> None:
    drawing = shapes()
    assert pdqhash.compute(drawing)[1] >= MIN_QUALITY
    assert detail(drawing) < MIN_DETAIL <= detail(ORIGINAL)
    # A smooth ramp is not detail, however much its grey values spread.
    assert detail(beveled()) < MIN_DETAIL
    hashes = default_registry().get("pdq").hash_variants(Media(b"", drawing))
    assert [(s.variant, s.detailed) for s in hashes] == [(None, False)]
    own, *candidates = default_registry().get("pdq").hash_variants(Media(b"", ORIGINAL))
    assert own.detailed and candidates

    def banked(rgb: np.ndarray) -> list[Signal]:
        ok, png = cv2.imencode(".png", rgb)
        assert ok
        return hash_file(png.tobytes(), default_registry(), Limits(), parts=True)

    assert all(not s.parts for s in banked(drawing))
    assert any(s.parts for s in banked(ORIGINAL))


def test_unrelated_pictures_are_far_from_every_part() -> None:
    parts = bank_parts(ORIGINAL)
    for seed in (3, 5, 8):
        other = sample_image(seed, (480, 640))
        assert closest_part(other, parts)[1] > 47


def turned(rgb: np.ndarray, degrees: float) -> np.ndarray:
    """`rgb` turned counter-clockwise within its own frame, the corners left black."""
    height, width = rgb.shape[:2]
    matrix = cv2.getRotationMatrix2D((width / 2, height / 2), degrees, 1.0)
    return cv2.warpAffine(rgb, matrix, (width, height))


@pytest.mark.parametrize("degrees", [-6.0, -3.0, 4.0, 8.0])
def test_a_small_rotation_is_read_from_the_corners_and_turned_back(degrees: float) -> None:
    """The turn costs the picture its corners, so the candidate is not the original's
    hash; on this synthetic picture, busy up to its corners, it halves the distance (on
    real photos, within 31 bits for two thirds: benchmarks/RESULTS.md, "Variants")."""
    original = reference(ORIGINAL)
    upload = turned(ORIGINAL, degrees)
    found = rotation_corners(cv2.cvtColor(upload, cv2.COLOR_RGB2GRAY))
    assert found is not None and abs(found[0] - degrees) < 0.5
    (candidate,) = unrotated(upload)
    assert candidate.name == "unrotated:original"
    assert distance(candidate.code, original) < 0.6 * distance(reference(upload), original)
    assert "unrotated:original" in [v.name for v in pdq_variants(upload)]


def test_only_turned_corners_make_an_unrotated_candidate() -> None:
    assert unrotated(ORIGINAL) == []
    # A tiny picture's corner legs are too short to read an angle from.
    for side in (5, 8, 12, 24):
        assert unrotated(turned(cv2.resize(ORIGINAL, (side, side)), 8)) == []
    assert unrotated(shapes()) == []  # a plain ground reaches every edge
    # Bars are not corners: a letterboxed picture is trimmed, not turned back.
    assert unrotated(np.pad(ORIGINAL, ((60, 60), (0, 0), (0, 0)))) == []
    # Corners that disagree (a turn of 4 degrees beside one of 12) are no rotation.
    mixed = turned(ORIGINAL, 4)
    mixed[:, 320:] = turned(ORIGINAL, 12)[:, 320:]
    assert unrotated(mixed) == []
