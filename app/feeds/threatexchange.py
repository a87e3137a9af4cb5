"""ThreatExchange: the `threat_updates` delta stream of one privacy group.

`GET {url}/threat_updates/?access_token=..&start_time=..&limit=..&fields=..` (the feed's
URL names the Graph API version and privacy group, e.g.
`https://graph.facebook.com/v21.0/<privacy group id>`) answers `{data: [...], paging:
{cursors: {after}, next}}`; each update names an indicator, its type, its `last_updated`
time and `should_delete`. The checkpoint keeps the start time of the current run and the
cursor after the last page applied (never the `next` URL, which carries the token);
when a run ends, the next one starts at the newest `last_updated` seen, which replays a
few updates at that second: harmless, since applying an update twice changes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import httpx
from pydantic import BaseModel, ValidationError

from app.feeds.base import (
    Checkpoint,
    Feedback,
    FeedRecord,
    Page,
    Reject,
    checked,
    make_record,
    page_of,
)
from matcher.errors import MatcherError
from matcher.signals import Registry

#: ThreatExchange indicator types hashwall can match, by their hashwall names.
SIGNAL_TYPES = {"HASH_PDQ": "pdq", "HASH_MD5": "md5", "HASH_SHA256": "sha256"}
FIELDS = "id,indicator,type,creation_time,last_updated,should_delete"


class ThreatUpdatesPage(BaseModel):
    """One page of `threat_updates`."""

    data: list[Any]
    paging: dict[str, Any] | None = None


class ThreatUpdateWire(BaseModel):
    """One update, as far as hashwall reads it."""

    id: str | int
    indicator: str
    type: str
    last_updated: int
    should_delete: bool = False


class ThreatExchangeClient:
    """The Graph API's `threat_updates` edge over an `httpx.Client`."""

    def __init__(self, http: httpx.Client, url: str, access_token: str) -> None:
        self.http = http
        self.url = url.rstrip("/")
        self.access_token = access_token

    def threat_updates(
        self, start_time: int | None, limit: int, after: str | None = None
    ) -> ThreatUpdatesPage:
        """One page of updates since `start_time`, after the cursor `after`."""
        params: dict[str, Any] = {
            "access_token": self.access_token,
            "limit": limit,
            "fields": FIELDS,
        }
        if start_time is not None:
            params["start_time"] = start_time
        if after:
            params["after"] = after
        what = "ThreatExchange threat_updates"
        response = checked(
            lambda: self.http.get(f"{self.url}/threat_updates/", params=params), what
        )
        return page_of(response, ThreatUpdatesPage, what)


class ThreatExchangeFeed:
    """Follows `threat_updates`; ThreatExchange takes no feedback from hashwall."""

    kind: ClassVar[str] = "threatexchange"
    takes_feedback: ClassVar[bool] = False

    def __init__(
        self, client: ThreatExchangeClient, registry: Registry, page_size: int = 500
    ) -> None:
        self.client = client
        self.registry = registry
        self.page_size = page_size

    def fetch(self, checkpoint: Checkpoint | None) -> Page:
        """The next page of updates."""
        state = dict(checkpoint or {})
        start = state.get("start")
        newest = int(state.get("newest") or start or 0)
        page = self.client.threat_updates(start, self.page_size, state.get("after"))
        records: list[FeedRecord] = []
        rejects: list[Reject] = []
        for position, raw in enumerate(page.data):
            try:
                wire = ThreatUpdateWire.model_validate(raw)
            except ValidationError as error:
                rejects.append(Reject(f"update {position}", f"malformed update: {error}"))
                continue
            newest = max(newest, wire.last_updated)
            signal_type = SIGNAL_TYPES.get(wire.type)
            if signal_type is None:
                rejects.append(Reject(f"update {wire.id}", f"type {wire.type!r} not matched"))
                continue
            try:
                records.append(
                    make_record(
                        self.registry,
                        signal_type,
                        wire.indicator,
                        "deleted" if wire.should_delete else "active",
                        external_id=str(wire.id),
                    )
                )
            except MatcherError as error:
                rejects.append(Reject(f"update {wire.id}", str(error)))
        paging = page.paging or {}
        after = (paging.get("cursors") or {}).get("after")
        if paging.get("next") and after and page.data:
            return Page(records, rejects, {"start": start, "after": after, "newest": newest}, False)
        return Page(records, rejects, {"start": newest or start, "after": None}, True)

    def submit_feedback(self, items: Sequence[Feedback]) -> None:
        """Nothing is sent: feedback is only kept for feeds that take it."""
        raise NotImplementedError("ThreatExchange feeds take no feedback from hashwall")
