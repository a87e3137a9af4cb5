"""An upload's extra pdq hashes as the policy sees them: their record, what their names
say, and the quality they need. `matcher.variants` makes them.

Kept apart from the image work so the server, which matches candidates but never makes
them, does not load OpenCV.
"""

from __future__ import annotations

from dataclasses import dataclass

#: Candidates weaker than this are not searched (flat images collide with each other).
MIN_QUALITY = 50
#: ...except the whole picture's orientations, which carry the upload's own quality: a
#: copy of a strong original re-encoded, resized or blurred often rates a few points
#: lower (p99 of the drop here: 6 for a resize to 25%, 10 for a blur), and its mirror
#: should not vanish for that. Under `MIN_QUALITY` they ask for review at most (policy
#: rules 3 and 7).
MIN_TURNED_QUALITY = 40
#: Name prefixes of the candidates that add pixels the upload does not have.
UNCROPPED = "uncropped"
UNROTATED = "unrotated"


@dataclass(frozen=True, slots=True)
class Variant:
    """One candidate hash: how it was made (`trimmed:mirrored`), its code and quality."""

    name: str
    code: bytes
    quality: int


def extrapolated(variant: str) -> bool:
    """Whether a candidate adds pixels the upload does not have (`uncropped`,
    `unrotated`): an image's counts only within the match distance, as a derived
    orientation does (policy rule 7)."""
    return variant.startswith((UNCROPPED, UNROTATED))


def own_orientation(variant: str) -> bool:
    """Whether a candidate is in the upload's own orientation (`trimmed:original`), not
    one derived from its DCT (`trimmed:mirrored`)."""
    return variant.endswith("original")
