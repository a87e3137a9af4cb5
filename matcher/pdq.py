"""PDQ, Meta's 256-bit perceptual hash, bit-identical to the reference implementation
(`matcher.pdq_kernel`).

Banks hold PDQ hashes computed on the victim's device by the reference code at full
resolution, so a query hash must stay within a few bits of what the reference gives on
the same image. PDQ itself box-filters the luma plane down to 64x64; very large images
are first shrunk with area averaging, which is the same low-pass operation, to a size
where the hash moves by a bit or two at most (see benchmarks/RESULTS.md, "PDQ paths").

The text form is the one ThreatExchange and StopNCII exchange: 64 hex characters, the
most significant bit first, as python-threatexchange and the C++ `toHexString` write it.

The image work (`matcher.decode`, `matcher.variants`) is imported where media is hashed:
the server parses and compares pdq hashes, and only its hashing processes load OpenCV
(about 37 MB a process).
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from matcher.pdq_kernel import pdq_code
from matcher.signals import Media, PerceptualSignalType, Signal

#: Longest side an image is shrunk to before PDQ; chosen in benchmarks/hash_bench.py.
#: Decoding shrinks uploads to this size too, so pdq and phash share one working image.
PDQ_MAX_SIDE = 1536


def pdq_from_rgb(rgb: np.ndarray, max_side: int | None = PDQ_MAX_SIDE) -> tuple[bytes, int]:
    """Return (32-byte code, quality 0-100) for an RGB uint8 image."""
    from matcher.decode import shrink

    if max_side is not None:
        rgb = shrink(rgb, max_side)
    return pdq_code(rgb)


class PDQ(PerceptualSignalType):
    """PDQ: 256 bits, 64 hex characters, with a quality score from 0 to 100."""

    name = "pdq"
    code_bytes = 32
    #: Quality under which a hash is too flat to say anything (blank, near-uniform).
    degenerate_quality: ClassVar[int] = 10

    def is_degenerate(self, code: bytes, quality: int | None = None) -> bool:
        if quality is not None and quality < self.degenerate_quality:
            return True
        return super().is_degenerate(code, quality)

    def hash_media(self, media: Media) -> Signal | None:
        if media.rgb is None:
            return None
        code, quality = pdq_from_rgb(media.rgb)
        return Signal(self.name, self.format(code), quality)

    def hash_variants(self, media: Media) -> list[Signal]:
        """The file's own pdq, then, for a picture with detail enough, its candidates:
        dihedral orientations, the trimmed picture, the picture found inside a canvas, the
        picture with caption bands filled in (see `matcher.variants`). The reference
        computes the own hash and its orientations from one DCT, so this costs little more
        than `hash_media` when the picture has no borders, frame or caption."""
        from matcher.decode import shrink
        from matcher.variants import Grey, is_detailed, pdq_variants

        if media.rgb is None:
            return []
        rgb = shrink(media.rgb, PDQ_MAX_SIDE)
        grey = Grey.of(rgb)
        detailed = is_detailed(rgb, grey)
        own, *extra = pdq_variants(rgb, candidates=detailed, grey=grey)
        return [Signal(self.name, self.format(own.code), own.quality, detailed=detailed)] + [
            Signal(self.name, self.format(v.code), v.quality, v.name) for v in extra
        ]
