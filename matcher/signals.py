"""The signal type interface and its registry.

A signal type is one kind of fingerprint (pdq, phash, md5, ...). Each is one class:
it parses and formats the text form that hash-sharing feeds exchange, measures the
distance between two codes, says whether a code is too degenerate to ever match,
and computes its hash from media. Adding a hash type is adding one class here and
registering it; the index, the store and the API only ever see `SignalType`.

Codes are fixed-width `bytes` (32 bytes for pdq); that is what the index stores.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

import numpy as np

from matcher.errors import InvalidHashError, UnknownSignalTypeError

if TYPE_CHECKING:
    from matcher.candidates import Variant
    from matcher.video_hash import VideoHash


@dataclass(frozen=True, slots=True)
class Media:
    """Bytes of one uploaded file and, for images, its decoded RGB pixels; for videos,
    its frame hashes by orientation (`original` always; the others for query candidates)."""

    data: bytes
    rgb: np.ndarray | None = None
    video: Mapping[str, VideoHash] | None = None


@dataclass(frozen=True, slots=True)
class Signal:
    """One computed or submitted hash: its type, canonical text form and quality."""

    signal_type: str
    value: str
    quality: int | None = None
    #: For a query-side candidate (`mirrored`, `trimmed:original`, ...): how it was made.
    variant: str | None = None
    #: For an image banked from media: its bank-side parts (see `matcher.variants`).
    parts: tuple[Variant, ...] = ()
    #: For a picture hashwall hashed itself: whether it has the detail extra candidates
    #: and parts need (`matcher.variants.is_detailed`); None for a submitted hash.
    detailed: bool | None = None


class SignalType(ABC):
    """One kind of fingerprint. Subclasses set the class variables and hash media."""

    name: ClassVar[str]
    #: Length of a code in bytes.
    code_bytes: ClassVar[int]
    #: True when near (not only identical) codes mean the same content.
    perceptual: ClassVar[bool]
    #: True for a sequence of frame hashes (vpdq): its code only names it, and its
    #: frames are what match (see `parse_frames`).
    sequence: ClassVar[bool] = False

    def parse(self, text: str) -> bytes:
        """Return the code for a hex text form, or raise `InvalidHashError`."""
        if not isinstance(text, str):
            raise InvalidHashError(f"{self.name} value must be a string")
        value = text.strip().lower()
        expected = self.code_bytes * 2
        if len(value) != expected:
            raise InvalidHashError(
                f"{self.name} value must be {expected} hex characters, got {len(value)}"
            )
        try:
            return bytes.fromhex(value)
        except ValueError:
            raise InvalidHashError(f"{self.name} value is not hexadecimal") from None

    def format(self, code: bytes) -> str:
        """Return the canonical text form (lowercase hex) of a code."""
        return code.hex()

    def distance(self, a: bytes, b: bytes) -> int:
        """Hamming distance between two codes (0 or 1+ for exact types)."""
        return (int.from_bytes(a, "big") ^ int.from_bytes(b, "big")).bit_count()

    def parse_frames(self, text: str) -> VideoHash | None:
        """For a sequence type, the frames a text form holds (None when it only names a
        banked sequence); other types have none."""
        return None

    def is_degenerate(self, code: bytes, quality: int | None = None) -> bool:
        """True for codes that collide with countless unrelated media and must never match."""
        return False

    @abstractmethod
    def hash_media(self, media: Media) -> Signal | None:
        """Hash one file; None when this type does not apply to it (e.g. pdq of non-image)."""

    def hash_variants(self, media: Media) -> list[Signal]:
        """`hash_media`'s signal, then the file's query-side candidates (mirrored,
        trimmed, ...), which have a `variant`; by default there are none."""
        signal = self.hash_media(media)
        return [] if signal is None else [signal]


class PerceptualSignalType(SignalType):
    """A fixed-length binary hash compared by Hamming distance."""

    perceptual = True
    #: A code with fewer than this share of minority bits is degenerate: images that are
    #: blank or nearly uniform produce codes with almost all bits equal.
    min_minority_share: ClassVar[float] = 1 / 8

    def is_degenerate(self, code: bytes, quality: int | None = None) -> bool:
        bits = self.code_bytes * 8
        ones = int.from_bytes(code, "big").bit_count()
        return min(ones, bits - ones) < bits * self.min_minority_share

    @staticmethod
    def bits_to_code(bits: np.ndarray) -> bytes:
        """Pack a vector of 0/1 (most significant bit first) into a code."""
        return np.packbits(np.asarray(bits, dtype=np.uint8)).tobytes()


class Registry:
    """Signal types by name."""

    def __init__(self, types: list[SignalType]) -> None:
        self._types = {t.name: t for t in types}
        #: Names of the sequence types (a video's frames, such as vpdq).
        self.sequences = frozenset(t.name for t in types if t.sequence)

    def get(self, name: str) -> SignalType:
        """Return the signal type called `name`, or raise `UnknownSignalTypeError`."""
        try:
            return self._types[name]
        except (KeyError, TypeError):
            known = ", ".join(sorted(self._types))
            raise UnknownSignalTypeError(f"unknown signal type {name!r}; known: {known}") from None

    def names(self) -> list[str]:
        """Names of every registered type, in registration order."""
        return list(self._types)

    def __iter__(self) -> Iterator[SignalType]:
        return iter(self._types.values())


def default_registry() -> Registry:
    """The signal types hashwall ships with."""
    from matcher.exact import MD5, SHA256
    from matcher.pdq import PDQ
    from matcher.phash import PHash
    from matcher.vpdq import VPDQ

    return Registry([PDQ(), PHash(), MD5(), SHA256(), VPDQ()])
