"""Query-side candidates: a mirrored, rotated, padded or framed upload still finds the
original's pdq."""

from __future__ import annotations

import cv2
import numpy as np
import pdqhash
import pytest

from app.demo import sample_image
from matcher.signals import PerceptualSignalType
from matcher.variants import (
    MIN_QUALITY,
    ORIENTATIONS,
    Variant,
    bank_parts,
    inner_box,
    pdq_variants,
    trim_box,
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
    assert all(v.quality >= MIN_QUALITY for v in found[1:])
    assert len(ORIENTATIONS) == 8


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
    assert {"cut:top", "cut:bottom", "rotated:+6"} <= set(names)
    assert any(name.startswith("band:") for name in names)
    height, width = ORIGINAL.shape[:2]
    # Crops off the grid: 7% and 13% of each side, off centre.
    for share, top_share, left_share in ((0.07, 0.2, 0.7), (0.13, 0.9, 0.35)):
        crop_h, crop_w = int(height * (1 - share)), int(width * (1 - share))
        top, left = int((height - crop_h) * top_share), int((width - crop_w) * left_share)
        cropped = ORIGINAL[top : top + crop_h, left : left + crop_w]
        name, bits = closest_part(cropped, parts)
        assert name.startswith("crop") and bits <= 31
        assert distance(reference(cropped), reference(ORIGINAL)) > 31  # plain pdq misses it
    # A band painted over the bottom (big text in it moves pdq further: the benchmark
    # measures captions).
    banded = ORIGINAL.copy()
    banded[height * 85 // 100 :] = 0
    assert closest_part(banded, parts)[1] <= 31
    assert distance(reference(banded), reference(ORIGINAL)) > 31
    matrix = cv2.getRotationMatrix2D((width / 2, height / 2), 4.0, 1.0)
    assert closest_part(cv2.warpAffine(ORIGINAL, matrix, (width, height)), parts)[1] <= 31


def test_unrelated_pictures_are_far_from_every_part() -> None:
    parts = bank_parts(ORIGINAL)
    for seed in (3, 5, 8):
        other = sample_image(seed, (480, 640))
        assert closest_part(other, parts)[1] > 47
