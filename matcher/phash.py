"""pHash as imagehash computes it: a 64-bit DCT hash, 16 hex characters.

Kept for interoperability with banks that exchange pHash; PDQ is the primary signal.

imagehash's `phash` shrinks the picture in grey to 32x32 (Pillow, Lanczos), takes the
8x8 lowest frequencies of its DCT-II (scipy's, unnormalised), and sets each bit where a
coefficient is above their median. hashwall does the same steps but computes those 64
coefficients as two small matrix products: scipy (which imagehash imports for the DCT)
costs each hashing process 24 MB for two 32-point transforms. The bits are
imagehash's on photos (the tests compare them on 40 pictures; `benchmarks/hash_bench.py`
on the Debian corpus). They can differ only where coefficients tie with their median in
exact arithmetic (stripes, symmetric gradients: 4 of 2,018 images of the Debian corpus,
wallpapers, opencv-doc samples and clip art), and there both are set by rounding noise,
so neither survives a re-encoding.
"""

from __future__ import annotations

import numpy as np

from matcher.signals import Media, PerceptualSignalType, Signal

#: imagehash's defaults: an 8x8 hash from a 32x32 grey picture.
HASH_SIDE = 8
PICTURE_SIDE = 32


def _dct_rows() -> np.ndarray:
    """The first `HASH_SIDE` rows of the unnormalised DCT-II matrix of size
    `PICTURE_SIDE`, as `scipy.fftpack.dct` computes it: 2 sum x_n cos(pi k (2n+1) / 2N)."""
    k = np.arange(HASH_SIDE)[:, None]
    n = np.arange(PICTURE_SIDE)[None, :]
    return 2 * np.cos(np.pi * k * (2 * n + 1) / (2 * PICTURE_SIDE))


DCT_ROWS = _dct_rows()


def phash_bits(rgb: np.ndarray) -> np.ndarray:
    """imagehash's `phash` bits (64, row by row) of an RGB uint8 picture."""
    # Here: the server parses pHash values, only hashing processes compute them.
    from PIL import Image

    grey = (
        Image.fromarray(rgb)
        .convert("L")
        .resize((PICTURE_SIDE, PICTURE_SIDE), Image.Resampling.LANCZOS)
    )
    low = DCT_ROWS @ np.asarray(grey, dtype=np.float64) @ DCT_ROWS.T
    return (low > np.median(low)).flatten()


class PHash(PerceptualSignalType):
    """imagehash's `phash` with its default 8x8 size."""

    name = "phash"
    code_bytes = 8

    def hash_media(self, media: Media) -> Signal | None:
        if media.rgb is None:
            return None
        return Signal(self.name, self.format(self.bits_to_code(phash_bits(media.rgb))))
