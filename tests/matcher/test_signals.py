"""Signal types: text forms, distances, interoperability with the reference PDQ."""

from __future__ import annotations

import hashlib

import numpy as np
import pdqhash
import pytest

from app.demo import sample_image
from matcher.errors import InvalidHashError, UnknownSignalTypeError
from matcher.pdq import PDQ, pdq_from_rgb
from matcher.signals import Media, default_registry

registry = default_registry()


def reference_hex(rgb: np.ndarray) -> tuple[str, int]:
    """The hex ThreatExchange writes for the reference pdqhash output: its bit string, MSB first."""
    bits, quality = pdqhash.compute(rgb)
    bin_str = "".join(str(int(b)) for b in bits)
    return f"{int(bin_str, 2):064x}", int(quality)


@pytest.mark.parametrize("seed", range(6))
def test_pdq_is_bit_identical_to_the_reference(seed: int) -> None:
    rgb = sample_image(seed, (300 + 37 * seed, 400))
    code, quality = pdq_from_rgb(rgb, max_side=None)
    assert (PDQ().format(code), quality) == reference_hex(rgb)


def test_small_images_take_the_reference_path_unchanged() -> None:
    rgb = sample_image(9, (600, 800))
    assert pdq_from_rgb(rgb)[0] == pdq_from_rgb(rgb, max_side=None)[0]


def test_parse_and_format_round_trip() -> None:
    pdq = registry.get("pdq")
    value = "f" * 32 + "0" * 32
    assert pdq.format(pdq.parse(value.upper())) == value
    assert pdq.distance(pdq.parse("0" * 64), pdq.parse("0" * 63 + "7")) == 3


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("pdq", "g" * 64, "not hexadecimal"),
        ("pdq", "a" * 63, "64 hex characters"),
        ("phash", "a" * 15, "16 hex characters"),
        ("md5", "a" * 31, "32 hex characters"),
        ("sha256", "", "64 hex characters"),
    ],
)
def test_invalid_values(name: str, value: str, message: str) -> None:
    with pytest.raises(InvalidHashError, match=message):
        registry.get(name).parse(value)


def test_unknown_signal_type() -> None:
    with pytest.raises(UnknownSignalTypeError, match="known: md5, pdq, phash, sha256"):
        registry.get("photodna")


def test_degenerate_hashes() -> None:
    pdq = registry.get("pdq")
    assert pdq.is_degenerate(bytes(32))
    assert pdq.is_degenerate(b"\xff" * 32)
    assert pdq.is_degenerate(b"\x01" + bytes(31))
    assert not pdq.is_degenerate(bytes.fromhex("0f" * 32))
    assert pdq.is_degenerate(bytes.fromhex("0f" * 32), quality=0)
    blank = np.full((200, 200, 3), 128, np.uint8)
    code, quality = pdq_from_rgb(blank)
    assert pdq.is_degenerate(code, quality)
    assert registry.get("md5").is_degenerate(hashlib.md5(b"").digest())
    assert not registry.get("md5").is_degenerate(hashlib.md5(b"x").digest())


def test_digests_are_of_the_file_bytes() -> None:
    data = b"some file bytes"
    media = Media(data=data)
    assert registry.get("md5").hash_media(media).value == hashlib.md5(data).hexdigest()  # type: ignore[union-attr]
    assert registry.get("sha256").hash_media(media).value == hashlib.sha256(data).hexdigest()  # type: ignore[union-attr]
    assert registry.get("pdq").hash_media(media) is None


@pytest.mark.parametrize("seed", range(40))
def test_phash_matches_imagehash(seed: int) -> None:
    """imagehash's bits, whatever the size and the shape of the picture."""
    import imagehash
    from PIL import Image

    rng = np.random.default_rng(seed)
    size = (int(rng.integers(16, 900)), int(rng.integers(16, 900)))
    rgb = sample_image(seed, size)
    if seed % 4 == 3:  # noise over it: the picture's own detail, not the sample's
        rgb = np.clip(rgb + rng.normal(0, 20, rgb.shape), 0, 255).astype(np.uint8)
    signal = registry.get("phash").hash_media(Media(data=b"", rgb=rgb))
    assert signal is not None
    assert signal.value == str(imagehash.phash(Image.fromarray(rgb)))
