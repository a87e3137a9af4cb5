"""The StopNCII adapter against a local server speaking its wire format."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from app.config import Settings
from app.feeds.runner import Backoff, FeedRunner
from app.main import create_app
from app.models import Feed, HashRecord, utcnow
from app.review.views import hash_context
from tests import feedserver
from tests.app.feeds.conftest import FAST
from tests.conftest import bearer
from tests.factories import flip_bits, random_pdq
from tests.feedserver import Fault, FeedState

MD5 = "9e107d9d372bb6826bd81d3542a419d6"


def checkpoint(sessions: sessionmaker[Session], name: str = "sn") -> dict | None:
    with sessions() as session:
        return session.scalar(select(Feed.checkpoint).where(Feed.name == name))


def test_pages_statuses_and_types(
    server: tuple[str, FeedState],
    runner: FeedRunner,
    add_feed: Callable[..., None],
    statuses: Callable[[], dict[str, str]],
    sessions: sessionmaker[Session],
) -> None:
    base, state = server
    values = [random_pdq(i) for i in range(25)]
    for value in values:
        state.stopncii_record(value)
    state.stopncii_record(MD5, kind="VideoMD5")
    state.stopncii_record("deadbeef", kind="VideoTMK")  # not a type hashwall matches
    state.stopncii_record("zz" * 32)  # not hex
    add_feed("sn", "stopncii", base)
    report = runner.sync("sn")
    assert report.error is None
    assert report.pages == 1  # page size 800
    assert report.applied.added == 26 and report.rejected == 2
    assert statuses() == {**dict.fromkeys(values, "active"), MD5: "active"}
    assert checkpoint(sessions) == {"start": 1028, "token": None}

    # Later records replace earlier ones: withdrawn and deleted stop matching (tombstones).
    state.stopncii_record(values[0], "Withdrawn", timestamp=2000)
    state.stopncii_record(values[1], "Deleted", timestamp=2001)
    report = runner.sync("sn")
    assert report.records == 2 and report.applied.removed == 2
    assert statuses()[values[0]] == "withdrawn" and statuses()[values[1]] == "deleted"
    # Fetching resumed from the checkpoint the first sync left.
    fetches = [q for path, q in state.requests if path.endswith("/FetchHashes")]
    assert fetches[-1]["startTimestamp"] == ["1028"]
    # A victim re-reports: the hash matches again.
    state.stopncii_record(values[0], "Active", timestamp=3000)
    assert runner.sync("sn").applied.reactivated == 1
    assert statuses()[values[0]] == "active"


def test_small_pages_resume_after_a_failure_without_skipping(
    server: tuple[str, FeedState],
    sessions: sessionmaker[Session],
    add_feed: Callable[..., None],
    statuses: Callable[[], dict[str, str]],
    runner: FeedRunner,
) -> None:
    base, state = server
    values = [random_pdq(100 + i) for i in range(10)]
    for value in values:
        state.stopncii_record(value)
    add_feed("sn", "stopncii", base)
    adapter_for = runner.adapter_for

    def small_pages(feed: Feed):  # type: ignore[no-untyped-def]
        adapter = adapter_for(feed)
        adapter.page_size = 3  # type: ignore[attr-defined]
        return adapter

    # The third page fails for good: two pages are committed, with their checkpoint.
    fetched = []

    def fail_third(feed: Feed):  # type: ignore[no-untyped-def]
        adapter = small_pages(feed)
        fetch = adapter.fetch

        def counted(point):  # type: ignore[no-untyped-def]
            fetched.append(point)
            if len(fetched) == 3:
                state.fail_next("/FetchHashes", *[Fault(500)] * FAST.attempts)
            return fetch(point)

        adapter.fetch = counted  # type: ignore[method-assign]
        return adapter

    runner.adapter_for = fail_third
    report = runner.sync("sn")
    assert report.error is not None and "HTTP 500" in report.error
    assert report.pages == 2 and len(statuses()) == 6
    assert checkpoint(sessions) == {"start": 10, "token": "page-6"}
    with sessions() as session:
        feed = session.scalar(select(Feed).where(Feed.name == "sn"))
        assert feed is not None and "HTTP 500" in (feed.last_error or "")
        assert feed.last_success_at is None
    # The next sync resumes from the committed page token: nothing skipped or doubled.
    runner.adapter_for = small_pages
    report = runner.sync("sn")
    assert report.error is None and report.records == 4
    assert statuses() == dict.fromkeys(values, "active")
    with sessions() as session:
        feed = session.scalar(select(Feed).where(Feed.name == "sn"))
        assert feed is not None and feed.last_error is None and feed.last_success_at
        assert feed.records == 10 and feed.added == 10


def test_throttling_timeouts_and_malformed_pages_are_retried(
    server: tuple[str, FeedState],
    sessions: sessionmaker[Session],
    add_feed: Callable[..., None],
    statuses: Callable[[], dict[str, str]],
    runner: FeedRunner,
) -> None:
    base, state = server
    state.stopncii_record(random_pdq(7))
    add_feed("sn", "stopncii", base)
    state.fail_next(
        "/FetchHashes",
        Fault(429, retry_after="0"),
        Fault(200, body=b"<html>not json</html>"),
        Fault(200, body=b'{"hashRecords": "nope"}'),
        Fault(502),
    )
    report = runner.sync("sn")
    assert report.error is None and report.applied.added == 1
    assert len([p for p, _ in state.requests if p.endswith("/FetchHashes")]) == 5
    # Refused credentials are not retried.
    state.fail_next("/FetchHashes", Fault(401))
    report = runner.sync("sn")
    assert report.error is not None and "credentials refused" in report.error


def test_a_timeout_is_retried(
    server: tuple[str, FeedState],
    add_feed: Callable[..., None],
    sessions: sessionmaker[Session],
    statuses: Callable[[], dict[str, str]],
    credentials: None,
) -> None:
    import httpx

    from app.feeds.kinds import adapter_factory
    from matcher.signals import default_registry

    base, state = server
    state.stopncii_record(random_pdq(8))
    add_feed("sn", "stopncii", base)
    state.fail_next("/FetchHashes", Fault(200, delay=1.0))
    with httpx.Client(timeout=0.2) as http:
        runner = FeedRunner(sessions, adapter_factory(http, default_registry()), FAST)
        report = runner.sync("sn")
    assert report.error is None and report.applied.added == 1


def test_retry_after_is_honoured() -> None:
    backoff = Backoff(attempts=3, base=1.0, ceiling=60.0)
    assert backoff.delay(0, 7.0) >= 7.0
    assert 0.5 <= backoff.delay(0, None) <= 1.0
    assert backoff.delay(10, None) <= 60.0


def test_missing_credentials_name_the_variable(
    server: tuple[str, FeedState],
    add_feed: Callable[..., None],
    runner: FeedRunner,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    base, _ = server
    add_feed("eu", "stopncii", base)
    monkeypatch.delenv("HASHWALL_STOPNCII_FETCH_KEY")
    report = runner.sync("eu")
    assert report.error is not None
    assert "HASHWALL_STOPNCII_FETCH_KEY" in report.error
    assert "HASHWALL_FEED_EU_FETCH_KEY" in report.error
    # The feed's own variable is enough.
    monkeypatch.setenv("HASHWALL_FEED_EU_FETCH_KEY", "test-fetch")
    assert runner.sync("eu").error is None


def test_unconfirmed_feed_reviews_until_confirmed_and_feedback_is_sent_once(
    server: tuple[str, FeedState],
    settings: Settings,
    keys: dict[str, str],
    add_feed: Callable[..., None],
    runner: FeedRunner,
) -> None:
    base, state = server
    reported, other = random_pdq(20), random_pdq(21)
    state.stopncii_record(reported)
    state.stopncii_record(other)
    add_feed("sn", "stopncii", base, trust="unconfirmed")
    assert runner.sync("sn").applied.added == 2
    item = {"items": [{"signal_type": "pdq", "value": reported}]}
    with TestClient(create_app(settings)) as client:
        for _ in range(3):
            result = client.post("/v1/match", json=item, headers=bearer(keys["match"])).json()
            assert result["results"][0]["verdict"] == "review"
            assert result["results"][0]["reason"] == "unconfirmed_source"
        client.app.state.hashwall.recorder.flush()  # type: ignore[attr-defined]
        report = runner.sync("sn")
        # Three matching uploads, one feedback record.
        assert report.feedback_sent == 1
        assert state.feedback == [
            {"hashValue": reported, "feedbackValue": "PendingReview", "tags": []}
        ]

        decision = {"decision": "confirm", "items": item["items"]}
        response = client.post(
            "/v1/banks/ncii/hashes/decisions", json=decision, headers=bearer(keys["banks:write"])
        )
        assert response.status_code == 200, response.text
        assert response.json() == {"found": 1, "confirmed": 1, "feedback": 1, "not_found": []}
        result = client.post("/v1/match", json=item, headers=bearer(keys["match"])).json()
        assert result["results"][0]["verdict"] == "block"
        dismiss = {"decision": "dismiss", "items": [{"signal_type": "pdq", "value": other}]}
        client.post(
            "/v1/banks/ncii/hashes/decisions", json=dismiss, headers=bearer(keys["banks:write"])
        )
        client.app.state.hashwall.recorder.flush()  # type: ignore[attr-defined]
    # The block matched `reported` again: its PendingReview was already sent, not resent.
    report = runner.sync("sn")
    assert report.feedback_sent == 2
    assert sorted((f["hashValue"], f["feedbackValue"]) for f in state.feedback) == sorted(
        [(reported, "PendingReview"), (reported, "Blocked"), (other, "NotBlocked")]
    )
    assert runner.sync("sn").feedback_sent == 0


def test_a_match_the_bank_blocked_on_its_own_is_fed_back_as_blocked(
    server: tuple[str, FeedState],
    settings: Settings,
    keys: dict[str, str],
    add_feed: Callable[..., None],
    runner: FeedRunner,
) -> None:
    base, state = server
    reported = random_pdq(22)
    state.stopncii_record(reported)
    add_feed("sn", "stopncii", base)  # confirmed: its hashes block on their own
    assert runner.sync("sn").applied.added == 1
    near = flip_bits(reported, 40)  # within review only: a person has to look
    with TestClient(create_app(settings)) as client:
        for value in (reported, reported, near):
            item = {"items": [{"signal_type": "pdq", "value": value}]}
            client.post("/v1/match", json=item, headers=bearer(keys["match"]))
        client.app.state.hashwall.recorder.flush()  # type: ignore[attr-defined]
    assert runner.sync("sn").feedback_sent == 2
    assert sorted(f["feedbackValue"] for f in state.feedback) == ["Blocked", "PendingReview"]


def test_feedback_that_fails_is_kept_and_sent_later(
    server: tuple[str, FeedState],
    settings: Settings,
    keys: dict[str, str],
    add_feed: Callable[..., None],
    runner: FeedRunner,
) -> None:
    base, state = server
    value = random_pdq(30)
    state.stopncii_record(value)
    add_feed("sn", "stopncii", base)
    runner.sync("sn")
    with TestClient(create_app(settings)) as client:
        item = {"items": [{"signal_type": "pdq", "value": value}]}
        assert (
            client.post("/v1/match", json=item, headers=bearer(keys["match"])).json()["results"][0][
                "verdict"
            ]
            == "block"
        )
        client.app.state.hashwall.recorder.flush()  # type: ignore[attr-defined]
    state.fail_next("/SubmitFeedback", *[Fault(503)] * FAST.attempts)
    report = runner.sync("sn")
    # The hashes were fetched: only the feedback failed, and it stays pending.
    assert report.error is None and report.feedback_error is not None
    assert report.feedback_sent == 0
    assert state.feedback == []
    report = runner.sync("sn")
    assert report.feedback_sent == 1 and len(state.feedback) == 1


def test_other_platforms_feedback_is_kept_for_moderators(
    server: tuple[str, FeedState],
    runner: FeedRunner,
    add_feed: Callable[..., None],
    sessions: sessionmaker[Session],
) -> None:
    base, state = server
    told, quiet = random_pdq(1), random_pdq(2)
    state.stopncii_record(told, feedback=["Blocked", "Blocked", "NotBlocked"])
    state.stopncii_record(quiet)
    add_feed("sn", "stopncii", base)
    assert runner.sync("sn").error is None
    with sessions() as session:
        ids = dict(session.execute(select(HashRecord.value, HashRecord.id)).all())
        context = hash_context(session, [ids[told], ids[quiet]], utcnow())
    assert context[ids[told]]["peer_feedback"] == {"Blocked": 2, "NotBlocked": 1}
    assert context[ids[told]]["feed"] == "sn" and context[ids[told]]["feed_kind"] == "stopncii"
    assert context[ids[quiet]]["peer_feedback"] is None
    # A later record replaces what the feed said before.
    state.stopncii_record(told, feedback=["Blocked"], timestamp=5000)
    runner.sync("sn")
    with sessions() as session:
        context = hash_context(session, [ids[told]], utcnow())
    assert context[ids[told]]["peer_feedback"] == {"Blocked": 1}


def test_a_feed_without_a_feedback_key_still_syncs(
    server: tuple[str, FeedState],
    settings: Settings,
    keys: dict[str, str],
    add_feed: Callable[..., None],
    runner: FeedRunner,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Fetching and feedback are separate duties: no feedback key is a warning."""
    base, state = server
    first, later = random_pdq(40), random_pdq(41)
    state.stopncii_record(first)
    add_feed("sn", "stopncii", base)
    runner.sync("sn")
    with TestClient(create_app(settings)) as client:
        item = {"items": [{"signal_type": "pdq", "value": first}]}
        client.post("/v1/match", json=item, headers=bearer(keys["match"]))
        client.app.state.hashwall.recorder.flush()  # type: ignore[attr-defined]
    monkeypatch.delenv("HASHWALL_STOPNCII_FEEDBACK_KEY")
    state.stopncii_record(later)
    report = runner.sync("sn")
    assert report.error is None and report.applied.added == 1
    assert report.feedback_error is not None and "feedback function key" in report.feedback_error
    monkeypatch.setenv("HASHWALL_STOPNCII_FEEDBACK_KEY", feedserver.FEEDBACK_KEY)
    assert runner.sync("sn").feedback_sent == 1  # kept pending, sent once it can be
