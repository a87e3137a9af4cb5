"""One exception tree, mapped to RFC 9457 problem+json in one handler.

    HashwallError (500)
    ├── InvalidInput (422)         a body that parses but says something wrong
    ├── NotFound (404)
    ├── Conflict (409)
    ├── Unauthenticated (401)      missing, unknown or revoked key
    ├── Forbidden (403)            key without the scope
    ├── PayloadTooLarge (413)
    └── UnsupportedMediaType (415)

Matcher errors (`matcher.errors`) map onto the same statuses. Every error response
names what was wrong and never echoes media or secrets. The HTTP side (the handlers
turning these into responses) is `app.problems`: the CLI raises these too, and need not
import FastAPI for it.
"""

from __future__ import annotations

from typing import Any

from matcher.errors import (
    MatcherError,
    MediaError,
    MediaTooLargeError,
    UnsupportedMediaError,
)

PROBLEM_JSON = "application/problem+json"


class HashwallError(Exception):
    """Base of the service's errors: a status, a short title and a detail."""

    status = 500
    title = "Internal error"
    slug = "internal"

    def __init__(self, detail: str, errors: list[dict[str, Any]] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors or []


class InvalidInput(HashwallError):
    status, title, slug = 422, "Invalid input", "invalid-input"


class NotFound(HashwallError):
    status, title, slug = 404, "Not found", "not-found"


class Conflict(HashwallError):
    status, title, slug = 409, "Conflict", "conflict"


class Unauthenticated(HashwallError):
    status, title, slug = 401, "Unauthenticated", "unauthenticated"


class Forbidden(HashwallError):
    status, title, slug = 403, "Forbidden", "forbidden"


class PayloadTooLarge(HashwallError):
    status, title, slug = 413, "Payload too large", "payload-too-large"


class UnsupportedMediaType(HashwallError):
    status, title, slug = 415, "Unsupported media type", "unsupported-media-type"


def from_matcher_error(
    error: MatcherError, pointer: str | None = None, label: str | None = None
) -> HashwallError:
    """The service error for a matcher error, optionally pointing at the input.

    `pointer` is a JSON pointer into the request (`/file/1`); `label` names it for people.
    """
    kind: type[HashwallError] = InvalidInput
    if isinstance(error, MediaTooLargeError):
        kind = PayloadTooLarge
    elif isinstance(error, UnsupportedMediaError):
        kind = UnsupportedMediaType
    elif isinstance(error, MediaError):
        kind = InvalidInput
    where = f"{pointer} ({label})" if pointer and label else pointer
    detail = f"{where}: {error}" if where else str(error)
    errors = [{"pointer": pointer, "detail": str(error)}] if pointer else []
    return kind(detail, errors)
