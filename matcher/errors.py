"""Errors raised while parsing hashes or decoding media.

    MatcherError
    ├── InvalidHashError      text that is not a hash of the named signal type
    ├── UnknownSignalTypeError
    └── MediaError            bytes that cannot be hashed
        ├── MediaTooLargeError    over the byte or pixel limit
        └── UnsupportedMediaError not an image format hashwall decodes

The service maps each to a 4xx problem; they carry no media, only what was wrong.
"""


class MatcherError(ValueError):
    """Base of every error the matcher raises about its input."""


class InvalidHashError(MatcherError):
    """A hash value that does not parse for its signal type."""


class UnknownSignalTypeError(MatcherError):
    """A signal type name hashwall does not know."""


class MediaError(MatcherError):
    """Media bytes that cannot be decoded or hashed."""


class MediaTooLargeError(MediaError):
    """Media over the configured byte or pixel limit."""


class UnsupportedMediaError(MediaError):
    """Bytes in a format hashwall does not decode."""
