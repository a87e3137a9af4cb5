"""`hashwall worker`: duties shared by several workers through leases, retention, and
the command itself."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import httpx
from click.testing import CliRunner
from sqlalchemy import Engine, func, select

from app.cli import main
from app.config import Settings
from app.db import make_session_factory
from app.feeds.kinds import adapter_factory
from app.feeds.runner import FeedRunner
from app.models import AuditRow, HashRecord, ReviewItem, VerdictLogEntry, utcnow
from app.policy import Action
from app.store import banks as bank_store
from app.store import feeds as feed_store
from app.webhooks import store as webhooks
from app.worker.run import Worker
from matcher.signals import default_registry
from tests.factories import random_pdq
from tests.webhookserver import webhook_receiver


def a_feed(engine: Engine, tmp_path: Path, values: list[str]) -> None:
    path = tmp_path / "hashes.csv"
    path.write_text("".join(f"pdq,{v}\n" for v in values))
    sessions = make_session_factory(engine)
    with sessions() as session, session.begin():
        bank = bank_store.create_bank(session, default_registry(), "ncii", Action.BLOCK)
        feed_store.create_feed(session, "local", "file", str(path), bank, interval_seconds=60)


def test_two_workers_sync_a_feed_once(engine: Engine, settings: Settings, tmp_path: Path) -> None:
    a_feed(engine, tmp_path, [random_pdq(n) for n in range(10)])
    sessions = make_session_factory(engine)
    clock = [utcnow()]
    with httpx.Client() as http:
        workers = [
            Worker(
                settings,
                sessions,
                FeedRunner(sessions, adapter_factory(http, default_registry())),
                http,
                owner=f"w{n}",
                now=lambda: clock[0],
            )
            for n in range(2)
        ]
        first, second = (w.sync_feeds() for w in workers)
        assert [r.feed for r in first] == ["local"] and second == []
        assert first[0].applied.added == 10
        # Nobody syncs it again before its interval has passed; then either may.
        assert workers[0].sync_feeds() == []
        clock[0] += timedelta(seconds=61)
        assert [r.feed for r in workers[1].sync_feeds()] == ["local"]
        # Retention runs once an hour across workers.
        assert workers[0].purge() is not None
        assert workers[1].purge() is None
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(HashRecord)) == 10


def test_retention_purges_old_rows_and_keeps_the_audit(engine: Engine, settings: Settings) -> None:
    sessions = make_session_factory(engine)
    now = utcnow()
    old, recent = now - timedelta(days=91), now - timedelta(days=1)
    with sessions() as session, session.begin():
        for at in (old, recent):
            session.add(
                VerdictLogEntry(
                    created_at=at,
                    key_name="k",
                    signal_types=["pdq"],
                    verdict="review",
                    reason="near_match",
                    matches=[],
                    policy_version="x",
                )
            )
            session.add(
                ReviewItem(
                    content_id=f"c-{at.day}",
                    status="decided",
                    decided_at=at,
                    reason="near_match",
                    verdict="review",
                )
            )
        session.add(ReviewItem(content_id="open", status="open", reason="r", verdict="review"))
        bank_store.create_bank(session, default_registry(), "ncii", Action.BLOCK)
    from app.audit import store as audit

    with sessions() as session, session.begin():
        audit.append(session, "cli", "bank.create", "bank:ncii")
    with httpx.Client() as http:
        worker = Worker(settings, sessions, FeedRunner(sessions, lambda feed: None), http)  # type: ignore[arg-type,return-value]
        purged = worker.purge()
    assert purged is not None and (purged.verdicts, purged.reviews) == (1, 1)
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(VerdictLogEntry)) == 1
        assert session.scalar(select(func.count()).select_from(ReviewItem)) == 2
        assert session.scalar(select(func.count()).select_from(AuditRow)) == 1


def test_the_command_delivers_webhooks(engine: Engine, database_url: str) -> None:
    sessions = make_session_factory(engine)
    with webhook_receiver() as receiver:
        with sessions() as session, session.begin():
            webhooks.create(session, receiver.url, ["review.decided"], "")
            webhooks.enqueue(session, "review.decided", {"item_id": 3})
        result = CliRunner().invoke(
            main, ["worker", "--once"], env={"HASHWALL_DATABASE_URL": database_url}
        )
        assert result.exit_code == 0, (result.output, result.exception)
        assert "1 webhook deliveries made" in result.output
        assert len(receiver.received) == 1
