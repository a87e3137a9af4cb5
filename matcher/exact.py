"""Cryptographic digests of a file's bytes: md5 (what StopNCII shares for video) and sha256.

They match only byte-identical files, so their only distance that matters is zero.
"""

from __future__ import annotations

import hashlib
from typing import ClassVar

from matcher.signals import Media, Signal, SignalType


class DigestSignalType(SignalType):
    """A hashlib digest of the whole file."""

    perceptual = False
    algorithm: ClassVar[str]

    def digest(self, data: bytes) -> bytes:
        """The raw digest of `data`."""
        return hashlib.new(self.algorithm, data).digest()

    def is_degenerate(self, code: bytes, quality: int | None = None) -> bool:
        # The digest of an empty file matches every empty upload.
        return code == self.digest(b"")

    def hash_media(self, media: Media) -> Signal | None:
        return Signal(self.name, self.format(self.digest(media.data)))


class MD5(DigestSignalType):
    """MD5 of the file's bytes, 32 hex characters."""

    name = "md5"
    code_bytes = 16
    algorithm = "md5"


class SHA256(DigestSignalType):
    """SHA-256 of the file's bytes, 64 hex characters."""

    name = "sha256"
    code_bytes = 32
    algorithm = "sha256"
