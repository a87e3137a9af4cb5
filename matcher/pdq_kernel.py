"""PDQ codes from RGB pixels: the reference's arithmetic, bit for bit, in a faster kernel.

`matcher/_pdq.c` reproduces what the reference `pdqhash` package computes, to the bit
(tests/matcher/test_pdq_kernel.py checks it against `pdqhash` itself), but blurs many rows
and columns at once where the reference filters one at a time: about five times faster
at 1024x768, and the GIL is released while it runs.
"""

from __future__ import annotations

import numpy as np

import matcher._pdq as _pdq

CODE_BYTES = 32


def pdq_code(rgb: np.ndarray) -> tuple[bytes, int]:
    """(32-byte code, quality 0-100) of an RGB uint8 picture: `pdqhash.compute`'s hash."""
    return _pdq.hash(np.ascontiguousarray(rgb, dtype=np.uint8), False)


def pdq_dihedral(rgb: np.ndarray) -> tuple[list[bytes], int]:
    """The codes of the picture's eight orientations, in `pdqhash.compute_dihedral`'s
    order, and its quality."""
    codes, quality = _pdq.hash(np.ascontiguousarray(rgb, dtype=np.uint8), True)
    return [codes[k : k + CODE_BYTES] for k in range(0, len(codes), CODE_BYTES)], quality
