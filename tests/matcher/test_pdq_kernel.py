"""hashwall's pdq kernel gives the reference `pdqhash`'s hashes and quality, bit for bit."""

from __future__ import annotations

import cv2
import numpy as np
import pdqhash
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.demo import sample_image
from matcher.pdq_kernel import pdq_code, pdq_dihedral
from matcher.signals import PerceptualSignalType


def reference(rgb: np.ndarray) -> tuple[list[bytes], int, bytes, int]:
    """The reference's eight dihedral codes and quality, and its plain hash and quality."""
    hashes, quality = pdqhash.compute_dihedral(rgb)
    bits, plain_quality = pdqhash.compute(rgb)
    return (
        [PerceptualSignalType.bits_to_code(h) for h in hashes],
        int(quality),
        PerceptualSignalType.bits_to_code(bits),
        int(plain_quality),
    )


def assert_same(rgb: np.ndarray) -> None:
    rgb = np.ascontiguousarray(rgb)
    codes, quality, plain, plain_quality = reference(rgb)
    assert pdq_dihedral(rgb) == (codes, quality)
    assert pdq_code(rgb) == (plain, plain_quality)


@settings(max_examples=60, deadline=None)
@given(
    rows=st.integers(1, 400),
    cols=st.integers(1, 400),
    seed=st.integers(0, 2**32 - 1),
    kind=st.sampled_from(["noise", "photo", "blocks", "flat", "gradient"]),
)
def test_matches_the_reference_bit_for_bit(rows: int, cols: int, seed: int, kind: str) -> None:
    """Any size (under 5 pixels a side the reference gives zeros), noise, photo-like
    content, hard edges, flat pictures (every coefficient ties with the median) and
    smooth gradients."""
    rng = np.random.default_rng(seed)
    if kind == "noise":
        rgb = rng.integers(0, 256, (rows, cols, 3), dtype=np.uint8)
    elif kind == "photo":
        rgb = cv2.resize(sample_image(seed % 50, (240, 320)), (cols, rows))
    elif kind == "blocks":
        small = rng.integers(0, 256, (4, 4, 3), dtype=np.uint8)
        rgb = cv2.resize(small, (cols, rows), interpolation=cv2.INTER_NEAREST)
    elif kind == "flat":
        rgb = np.full((rows, cols, 3), rng.integers(0, 256, 3), dtype=np.uint8)
    else:
        ramp = np.linspace(0, 255, cols, dtype=np.float32)[None, :, None]
        rgb = np.broadcast_to(ramp, (rows, cols, 3)).astype(np.uint8)
    assert_same(rgb)


@pytest.mark.parametrize("shape", [(64, 64), (64, 65), (5, 5), (4, 100), (1536, 1024)])
def test_edge_sizes(shape: tuple[int, int]) -> None:
    """Exactly 64x64 (the reference's plain hash skips the blur there, its dihedral hashes
    do not), the smallest hashable size, one under it, and a large picture."""
    assert_same(cv2.resize(sample_image(7, (240, 320)), (shape[1], shape[0])))


def test_views_of_a_larger_array_are_hashed_as_their_pixels() -> None:
    big = sample_image(3, (480, 640))
    assert_same(big[10:300, 20:500])
    assert pdq_code(big[10:300, 20:500]) == pdq_code(big[10:300, 20:500].copy())
