"""`hashwall worker`: the background process (feeds, webhooks, retention)."""

from __future__ import annotations

import click
import httpx

from app.config import Settings
from app.console import session_factory, stop_on_signals
from app.feeds.kinds import adapter_factory
from app.feeds.runner import FeedRunner
from app.ledger.sweep import Sweeper
from app.logs import configure_logging
from app.worker.run import Worker
from matcher.signals import default_registry


@click.command("worker")
@click.option("--once", is_flag=True, help="Run every duty once, then exit.")
@click.option(
    "--tick",
    type=click.FloatRange(min=0.05),
    default=1.0,
    show_default=True,
    help="Seconds between rounds.",
)
def worker(once: bool, tick: float) -> None:
    """Run every background duty: feed syncs and their feedback, the takedown sweep
    (with HASHWALL_LEDGER_DAYS set), webhook deliveries, retention purges. Run several:
    they share the work through leases."""
    settings = Settings()
    configure_logging(settings.log_level, settings.log_json)
    stop = stop_on_signals()
    with (
        session_factory(settings) as sessions,
        httpx.Client(timeout=settings.feed_timeout, follow_redirects=True) as feed_http,
        httpx.Client(timeout=settings.webhook_timeout) as webhook_http,
    ):
        feeds = FeedRunner(
            sessions,
            adapter_factory(feed_http, default_registry(), settings.secrets_file),
            stop=stop,
        )
        registry = default_registry()
        sweeper = (
            Sweeper(settings, sessions.kw["bind"], sessions, registry)
            if settings.ledger_days
            else None
        )
        runner = Worker(settings, sessions, feeds, webhook_http, stop=stop, sweeper=sweeper)
        if once:
            done = runner.run_once()
            runner.close()
            swept = f", {done.sweep.contents} uploads found by the sweep" if done.sweep else ""
            click.echo(
                f"{len(done.feeds)} feeds synced{swept}, {done.webhooks.delivered} webhook "
                f"deliveries made, {done.webhooks.retrying} to retry, {done.webhooks.failed} "
                "given up"
            )
            return
        runner.follow(tick)
