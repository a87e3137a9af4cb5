"""What every feed adapter offers, and the records it hands the runner.

An adapter fetches one page of deltas from a checkpoint and, when its feed takes them,
submits feedback. The wire client (HTTP, paging, headers) is a separate class that takes
an `httpx.Client`, so tests point it at a local server. Checkpoints are small JSON
objects whose shape belongs to the adapter; the runner stores each one in the same
transaction as the page it follows, so a checkpoint never runs ahead of what is committed.

Records are validated here, once, whatever feed or file they came from: a record that is
not a valid hash of a known type becomes a `Reject` (with where it was), never a failure
of its page.
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, ClassVar, Protocol, TypeVar

import httpx
from pydantic import BaseModel, ValidationError

from app.matching import DEGENERATE_DETAIL, parse_signal
from matcher.errors import MatcherError
from matcher.signals import Registry, Signal
from matcher.video_hash import VideoHash

Checkpoint = Mapping[str, Any]
PageModel = TypeVar("PageModel", bound=BaseModel)


class RecordStatus(StrEnum):
    """What a feed says of a hash: keep matching it, or stop (a victim withdrew the case,
    or the source deleted it)."""

    ACTIVE = "active"
    WITHDRAWN = "withdrawn"
    DELETED = "deleted"


@dataclass(frozen=True, slots=True)
class FeedRecord:
    """One validated hash from a feed or a file, in canonical form."""

    signal_type: str
    value: str
    status: RecordStatus = RecordStatus.ACTIVE
    quality: int | None = None
    external_id: str | None = None
    case_ref: str | None = None
    #: A video's frames (vpdq); `value` is then their identity.
    frames: VideoHash | None = None
    #: Other platforms' feedback on the hash, counted by value, when the feed sends it.
    peer_feedback: Mapping[str, int] | None = None

    @property
    def key(self) -> tuple[str, str]:
        """What identifies the hash within a bank."""
        return self.signal_type, self.value


@dataclass(frozen=True, slots=True)
class Reject:
    """A record that could not be used, and where it was (a line, or a page position)."""

    where: str
    reason: str
    line: int | None = None


@dataclass(slots=True)
class Page:
    """One fetch: records in feed order, rejects, where the next fetch starts, and
    whether the feed is caught up."""

    records: list[FeedRecord]
    rejects: list[Reject]
    checkpoint: dict[str, Any]
    done: bool


@dataclass(frozen=True, slots=True)
class Feedback:
    """Feedback on one hash, in StopNCII's vocabulary (PendingReview, Blocked, NotBlocked)."""

    signal_type: str
    value: str
    feedback: str


class FeedError(Exception):
    """A fetch or a submission that failed."""


class FeedUnavailable(FeedError):
    """A fault worth retrying: a timeout, a 5xx, a 429, a malformed page."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class FeedRefused(FeedError):
    """A fault retrying will not mend: credentials refused, a missing endpoint."""


class FeedAdapter(Protocol):
    """One hash-sharing feed."""

    kind: ClassVar[str]
    #: Whether `submit_feedback` sends anything upstream.
    takes_feedback: ClassVar[bool]

    def fetch(self, checkpoint: Checkpoint | None) -> Page:
        """The next page of deltas after `checkpoint` (None: from the beginning)."""
        ...

    def submit_feedback(self, items: Sequence[Feedback]) -> None:
        """Send a batch of feedback upstream; raise `FeedError` if it was not taken."""
        ...


def make_record(
    registry: Registry,
    signal_type: str,
    value: str,
    status: str = RecordStatus.ACTIVE,
    *,
    quality: int | None = None,
    external_id: str | None = None,
    case_ref: str | None = None,
    peer_feedback: Mapping[str, int] | None = None,
) -> FeedRecord:
    """Validate one record; raise `MatcherError` naming what is wrong."""
    try:
        record_status = RecordStatus(status.lower())
    except ValueError:
        raise MatcherError(
            f"unknown status {status!r}: expected one of {', '.join(RecordStatus)}"
        ) from None
    if quality is not None and not 0 <= quality <= 100:
        raise MatcherError("quality must be between 0 and 100")
    query = parse_signal(registry, Signal(signal_type, value, quality))
    signal = registry.get(query.signal_type)
    # A degenerate hash may still be withdrawn: that only removes it.
    if query.degenerate and record_status is RecordStatus.ACTIVE:
        raise MatcherError(DEGENERATE_DETAIL)
    if query.frames is None and record_status is RecordStatus.ACTIVE and signal.sequence:
        raise MatcherError("a video is added with its frames (vpdq text), not its identity")
    return FeedRecord(
        query.signal_type,
        query.value,
        record_status,
        quality,
        external_id,
        case_ref,
        query.frames,
        peer_feedback,
    )


def retry_after(response: httpx.Response) -> float | None:
    """Seconds a 429 or 503 asks to wait (Retry-After as seconds or an HTTP date)."""
    header = response.headers.get("Retry-After")
    if not header:
        return None
    if header.strip().isdigit():
        return float(header)
    try:
        when = email.utils.parsedate_to_datetime(header)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def checked(send: Any, what: str) -> httpx.Response:
    """Call `send()` (an httpx request) and sort its failures into retryable or not."""
    try:
        response: httpx.Response = send()
    except httpx.TimeoutException as error:
        raise FeedUnavailable(f"{what}: timed out ({type(error).__name__})") from error
    except httpx.TransportError as error:
        raise FeedUnavailable(f"{what}: {type(error).__name__}: {error}") from error
    status = response.status_code
    if status == 429 or status >= 500:
        raise FeedUnavailable(f"{what}: HTTP {status}", retry_after(response))
    if status in (401, 403):
        raise FeedRefused(f"{what}: HTTP {status}: credentials refused")
    if status >= 400:
        raise FeedRefused(f"{what}: HTTP {status}")
    return response


def page_of(response: httpx.Response, model: type[PageModel], what: str) -> PageModel:
    """The response's JSON as `model`; a page that is not JSON, or not of that shape, is
    a fault worth retrying."""
    try:
        body = response.json()
    except ValueError as error:
        raise FeedUnavailable(f"{what}: malformed page (not JSON)") from error
    try:
        return model.model_validate(body)
    except ValidationError as error:
        raise FeedUnavailable(f"{what}: malformed page: {error.errors()[0]['msg']}") from error
