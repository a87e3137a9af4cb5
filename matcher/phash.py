"""pHash as imagehash computes it: a 64-bit DCT hash, 16 hex characters.

Kept for interoperability with banks that exchange pHash; PDQ is the primary signal.
"""

from __future__ import annotations

from matcher.signals import Media, PerceptualSignalType, Signal


class PHash(PerceptualSignalType):
    """imagehash's `phash` with its default 8x8 size."""

    name = "phash"
    code_bytes = 8

    def hash_media(self, media: Media) -> Signal | None:
        if media.rgb is None:
            return None
        # Imported here: the server parses pHash values but only its hashing processes
        # compute them (imagehash brings scipy along).
        import imagehash
        from PIL import Image

        bits = imagehash.phash(Image.fromarray(media.rgb)).hash.flatten()
        return Signal(self.name, self.format(self.bits_to_code(bits)))
