"""From a feed's row to its adapter: a new kind of feed is one entry here."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx

from app.feeds.base import FeedAdapter
from app.feeds.credentials import Credentials
from app.feeds.files import FileFeed
from app.feeds.stopncii import StopNCIIClient, StopNCIIFeed
from app.feeds.threatexchange import ThreatExchangeClient, ThreatExchangeFeed
from app.models import Feed
from matcher.signals import Registry

Builder = Callable[[Feed, Credentials, httpx.Client, Registry], FeedAdapter]


def _stopncii(
    feed: Feed, secrets: Credentials, http: httpx.Client, registry: Registry
) -> FeedAdapter:
    client = StopNCIIClient(
        http,
        feed.url,
        secrets.require("SUBSCRIPTION_KEY"),
        secrets.require("FETCH_KEY"),
        secrets.get("FEEDBACK_KEY"),
    )
    return StopNCIIFeed(client, registry)


def _threatexchange(
    feed: Feed, secrets: Credentials, http: httpx.Client, registry: Registry
) -> FeedAdapter:
    return ThreatExchangeFeed(
        ThreatExchangeClient(http, feed.url, secrets.require("TOKEN")), registry
    )


def _file(feed: Feed, secrets: Credentials, http: httpx.Client, registry: Registry) -> FeedAdapter:
    return FileFeed(feed.url, registry, http)


BUILDERS: dict[str, Builder] = {
    "stopncii": _stopncii,
    "threatexchange": _threatexchange,
    "file": _file,
}


#: The secret each kind's feedback needs (kinds not named send none, or need no key).
FEEDBACK_KEYS = {"stopncii": "FEEDBACK_KEY"}


def feedback_configured(name: str, kind: str, secrets_file: Path | None = None) -> bool | None:
    """Whether a feed's feedback key is set (None: the kind needs none); never the key."""
    key = FEEDBACK_KEYS.get(kind)
    if key is None:
        return None
    return Credentials(name, kind, secrets_file).get(key) is not None


def adapter_factory(
    http: httpx.Client, registry: Registry, secrets_file: Path | None = None
) -> Callable[[Feed], FeedAdapter]:
    """What the runner calls to get a feed's adapter; secrets are read at that moment, so
    a rotated key is picked up on the next sync."""

    def build(feed: Feed) -> FeedAdapter:
        return BUILDERS[feed.kind](
            feed, Credentials(feed.name, feed.kind, secrets_file), http, registry
        )

    return build
