"""The ThreatExchange adapter against a local `threat_updates` server."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from app.feeds.runner import FeedRunner
from app.feeds.threatexchange import ThreatExchangeFeed
from app.models import Feed
from tests.factories import random_pdq
from tests.feedserver import Fault, FeedState


def update(
    number: int, value: str, when: int, delete: bool = False, kind: str = "HASH_PDQ"
) -> dict:
    return {
        "id": str(number),
        "indicator": value,
        "type": kind,
        "creation_time": when,
        "last_updated": when,
        "should_delete": delete,
    }


def test_deltas_page_and_delete(
    server: tuple[str, FeedState],
    runner: FeedRunner,
    add_feed: Callable[..., None],
    statuses: Callable[[], dict[str, str]],
    sessions: sessionmaker[Session],
) -> None:
    base, state = server
    values = [random_pdq(200 + i) for i in range(7)]
    state.threat_updates = [update(i, v, 100 + i) for i, v in enumerate(values)]
    state.threat_updates.append(update(50, "https://example.org", 90, kind="URI"))
    add_feed("te", "threatexchange", f"{base}/v21.0/1234")
    adapter_for = runner.adapter_for

    def small_pages(feed: Feed) -> ThreatExchangeFeed:
        adapter = adapter_for(feed)
        assert isinstance(adapter, ThreatExchangeFeed)
        adapter.page_size = 3
        return adapter

    runner.adapter_for = small_pages
    report = runner.sync("te")
    assert report.error is None and report.pages == 3
    assert report.applied.added == 7 and report.rejected == 1
    assert statuses() == dict.fromkeys(values, "active")
    with sessions() as session:
        assert session.scalar(select(Feed.checkpoint).where(Feed.name == "te")) == {
            "start": 106,
            "after": None,
        }
    # The next run starts at the newest update seen; the token never reaches the checkpoint.
    state.threat_updates.append(update(1, values[1], 200, delete=True))
    state.fail_next("/v21.0/1234/threat_updates/", Fault(503))
    report = runner.sync("te")
    assert report.error is None and report.applied.removed == 1
    assert statuses()[values[1]] == "deleted"
    last = [q for path, q in state.requests if path.endswith("/threat_updates/")][-1]
    assert last["start_time"] == ["106"]
    assert last["access_token"] == ["test-token"]


def test_a_refused_token_fails_without_retrying(
    server: tuple[str, FeedState],
    runner: FeedRunner,
    add_feed: Callable[..., None],
    monkeypatch,  # type: ignore[no-untyped-def]
) -> None:
    base, state = server
    add_feed("te", "threatexchange", f"{base}/v21.0/1234")
    monkeypatch.setenv("HASHWALL_THREATEXCHANGE_TOKEN", "wrong")
    report = runner.sync("te")
    assert report.error is not None and "HTTP 400" in report.error
    assert len(state.requests) == 1
    assert "wrong" not in report.error
