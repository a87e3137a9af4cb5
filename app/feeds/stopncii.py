"""StopNCII: the partner hash API (FetchHashes, SubmitFeedback).

The wire format is python-threatexchange's StopNCII client's
(`threatexchange/exchanges/clients/stopncii/api.py`): `GET {base}/FetchHashes` with
`startTimestamp`, `pageSize` and, within a run of pages, `nextPageToken`; every request
carries `Ocp-Apim-Subscription-Key` and the endpoint's `x-functions-key`. Each record is a
full snapshot of one hash, so a later one replaces an earlier one, and replaying a page
changes nothing. The checkpoint holds the run's start and the token of the next page;
when a run ends, the next starts from the server's `nextSetTimestamp`. A page token is
not valid for long: if the server refuses one, the run restarts from its timestamp.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any, ClassVar

import httpx
from pydantic import BaseModel, ValidationError

from app.feeds.base import (
    Checkpoint,
    Feedback,
    FeedRecord,
    FeedRefused,
    FeedUnavailable,
    Page,
    Reject,
    checked,
    make_record,
    page_of,
)
from matcher.errors import MatcherError
from matcher.signals import Registry

#: StopNCII's signal types hashwall can match, by their hashwall names.
SIGNAL_TYPES = {"ImagePDQ": "pdq", "VideoMD5": "md5"}
#: Case statuses that mean "stop matching".
STATUSES = {"Received": "active", "Active": "active", "Withdrawn": "withdrawn"}
#: Where python-threatexchange starts a first fetch.
DEFAULT_START = 10


class FetchHashesResponse(BaseModel):
    """A FetchHashes page; records are checked one by one, so one bad record is a reject."""

    count: int | None = None
    nextPageToken: str | None = None
    nextSetTimestamp: int
    hasMoreRecords: bool
    hashRecords: list[Any]


class CSPFeedbackWire(BaseModel):
    """One platform's feedback on a hash."""

    feedbackValue: str
    source: str | None = None


class HashRecordWire(BaseModel):
    """One StopNCII hash record, as far as hashwall reads it."""

    lastModtimestamp: int | None = None
    signalType: str
    hashValue: str
    hashStatus: str
    caseNumbers: dict[str, Any] | list[Any] | None = None
    #: Other platforms' feedback (python-threatexchange: `StopNCIICSPFeedback`).
    CSPFeedbacks: list[CSPFeedbackWire] | None = None


class StopNCIIClient:
    """The StopNCII REST API over an `httpx.Client`."""

    def __init__(
        self,
        http: httpx.Client,
        base_url: str,
        subscription_key: str,
        fetch_key: str,
        feedback_key: str | None = None,
    ) -> None:
        self.http = http
        self.base_url = base_url.rstrip("/")
        self.subscription_key = subscription_key
        self.fetch_key = fetch_key
        self.feedback_key = feedback_key

    def _headers(self, function_key: str) -> dict[str, str]:
        return {"Ocp-Apim-Subscription-Key": self.subscription_key, "x-functions-key": function_key}

    def fetch_hashes(
        self, start_timestamp: int, page_size: int, next_page_token: str | None = None
    ) -> FetchHashesResponse:
        """One FetchHashes page."""
        params: dict[str, Any] = {"startTimestamp": start_timestamp, "pageSize": page_size}
        if next_page_token:
            params["nextPageToken"] = next_page_token
        what = "StopNCII FetchHashes"
        response = checked(
            lambda: self.http.get(
                f"{self.base_url}/FetchHashes", params=params, headers=self._headers(self.fetch_key)
            ),
            what,
        )
        return page_of(response, FetchHashesResponse, what)

    def submit_feedback(self, feedbacks: Sequence[dict[str, Any]]) -> None:
        """POST SubmitFeedback with `{count, hashFeedbacks: [{hashValue, feedbackValue, tags}]}`."""
        if not self.feedback_key:
            raise FeedRefused("StopNCII SubmitFeedback needs a feedback function key")
        body = {"count": len(feedbacks), "hashFeedbacks": list(feedbacks)}
        checked(
            lambda: self.http.post(
                f"{self.base_url}/SubmitFeedback",
                json=body,
                headers=self._headers(self.feedback_key or ""),
            ),
            "StopNCII SubmitFeedback",
        )


def parse_record(registry: Registry, raw: Any) -> FeedRecord | str:
    """A StopNCII record as a hashwall record, or why it cannot be one."""
    try:
        wire = HashRecordWire.model_validate(raw)
    except ValidationError as error:
        problem = error.errors()[0]
        where = ".".join(str(part) for part in problem["loc"]) or "record"
        return f"malformed record: {where}: {problem['msg']}"
    signal_type = SIGNAL_TYPES.get(wire.signalType)
    if signal_type is None:
        return f"signal type {wire.signalType!r} is not one hashwall matches"
    # Deleted, and anything unknown, stops matching: a hash is only kept on a clear yes.
    status = STATUSES.get(wire.hashStatus, "deleted")
    cases = wire.caseNumbers
    case_ref = ",".join(sorted(cases)) if isinstance(cases, dict) and cases else None
    try:
        return make_record(
            registry,
            signal_type,
            wire.hashValue,
            status,
            case_ref=case_ref[:200] if case_ref else None,
            peer_feedback=dict(Counter(f.feedbackValue[:32] for f in wire.CSPFeedbacks))
            if wire.CSPFeedbacks
            else None,
        )
    except MatcherError as error:
        return str(error)


class StopNCIIFeed:
    """Pages through FetchHashes from a checkpoint; submits feedback in batches."""

    kind: ClassVar[str] = "stopncii"
    takes_feedback: ClassVar[bool] = True

    def __init__(self, client: StopNCIIClient, registry: Registry, page_size: int = 800) -> None:
        self.client = client
        self.registry = registry
        self.page_size = page_size

    def fetch(self, checkpoint: Checkpoint | None) -> Page:
        """The next page; when the run of pages ends, the checkpoint moves on to the
        server's `nextSetTimestamp`."""
        start = int((checkpoint or {}).get("start", DEFAULT_START))
        token = (checkpoint or {}).get("token")
        try:
            response = self.client.fetch_hashes(start, self.page_size, token)
        except FeedRefused:
            if not token:
                raise
            # An expired page token: replay the run from its start (records are snapshots).
            response = self.client.fetch_hashes(start, self.page_size)
        records, rejects = [], []
        for position, raw in enumerate(response.hashRecords):
            record = parse_record(self.registry, raw)
            if isinstance(record, str):
                rejects.append(Reject(f"start {start} record {position}", record))
            else:
                records.append(record)
        if response.hasMoreRecords:
            if not response.nextPageToken:
                raise FeedUnavailable("StopNCII FetchHashes: more records but no nextPageToken")
            return Page(records, rejects, {"start": start, "token": response.nextPageToken}, False)
        return Page(records, rejects, {"start": response.nextSetTimestamp, "token": None}, True)

    def submit_feedback(self, items: Sequence[Feedback]) -> None:
        """One SubmitFeedback call for the batch."""
        self.client.submit_feedback(
            [
                {"hashValue": item.value, "feedbackValue": item.feedback, "tags": []}
                for item in items
            ]
        )
