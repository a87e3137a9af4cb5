"""`hashwall feeds`: add feeds, list their state, and run the sync worker."""

from __future__ import annotations

import click
import httpx

from app.audit import store as audit
from app.config import Settings
from app.console import (
    ExitCode,
    cli_actor,
    database,
    fail,
    session_factory,
    show,
    stop_on_signals,
)
from app.errors import HashwallError
from app.feeds.kinds import adapter_factory, feedback_configured
from app.feeds.runner import FeedRunner
from app.logs import configure_logging
from app.store import banks as bank_store
from app.store import feeds as feed_store
from matcher.signals import default_registry


@click.group()
def feeds() -> None:
    """Hash-sharing feeds (StopNCII, ThreatExchange, files) that fill banks."""


@feeds.command("add")
@click.option("--name", required=True)
@click.option("--kind", type=click.Choice(feed_store.KINDS), required=True)
@click.option("--url", required=True, help="API base URL, or a file's path or URL.")
@click.option("--bank", required=True, help="The bank the feed fills.")
@click.option(
    "--trust",
    type=click.Choice(feed_store.TRUST),
    default="confirmed",
    show_default=True,
    help="Hashes from an unconfirmed feed cause `review` at most until a moderator confirms.",
)
@click.option(
    "--interval",
    type=click.IntRange(min=1),
    default=300,
    show_default=True,
    help="Seconds between polls under `feeds sync --follow`.",
)
@click.option("--disabled", is_flag=True)
def feeds_add(
    name: str, kind: str, url: str, bank: str, trust: str, interval: int, disabled: bool
) -> None:
    """Add a feed. Its credentials come from the environment (see the README)."""
    try:
        with database(Settings()) as session:
            target = bank_store.get_bank(session, bank)
            feed_store.create_feed(
                session, name, kind, url, target, trust, interval, enabled=not disabled
            )
            audit.append(
                session,
                cli_actor(),
                "feed.create",
                f"feed:{name}",
                {"kind": kind, "bank": bank, "trust": trust, "interval": interval},
            )
    except HashwallError as error:
        fail(error.detail)
    click.echo(f"feed {name} added ({kind} into bank {bank}, {trust})")


@feeds.command("list")
@click.option("--json", "as_json", is_flag=True)
def feeds_list(as_json: bool) -> None:
    """List feeds with their sync state."""
    settings = Settings()
    with database(settings) as session:
        rows = feed_store.feed_states(session)
    for row in rows:
        row["feedback_configured"] = feedback_configured(
            row["name"], row["kind"], settings.secrets_file
        )
    show(
        rows,
        as_json,
        "{name}\t{kind}\t{bank}\t{state}\t{records} records\t{health}{feedback}",
        "no feeds yet: add one with `hashwall feeds add`",
        state=lambda r: "enabled" if r["enabled"] else "disabled",
        health=lambda r: f"error: {r['last_error']}" if r["last_error"] else "ok",
        feedback=lambda r: "\tfeedback not configured" if r["feedback_configured"] is False else "",
    )


@feeds.command("remove")
@click.argument("name")
@click.confirmation_option(prompt="Remove the feed? Its hashes stay in its bank.")
def feeds_remove(name: str) -> None:
    """Remove a feed and its pending feedback. The hashes it brought stay in its bank
    (remove them with `hashwall hashes remove`, or delete the bank)."""
    try:
        with database(Settings()) as session:
            feed = feed_store.delete_feed(session, name)
            audit.append(session, cli_actor(), "feed.remove", f"feed:{name}", {"kind": feed.kind})
    except HashwallError as error:
        fail(error.detail)
    click.echo(f"feed {name} removed")


def _set_enabled(name: str, enabled: bool) -> None:
    try:
        with database(Settings()) as session:
            feed_store.get_feed(session, name).enabled = enabled
            action = "feed.enable" if enabled else "feed.disable"
            audit.append(session, cli_actor(), action, f"feed:{name}")
    except HashwallError as error:
        fail(error.detail)
    click.echo(f"feed {name} {'enabled' if enabled else 'disabled'}")


@feeds.command("enable")
@click.argument("name")
def feeds_enable(name: str) -> None:
    """Enable a feed."""
    _set_enabled(name, True)


@feeds.command("disable")
@click.argument("name")
def feeds_disable(name: str) -> None:
    """Disable a feed: it is no longer synced (its hashes keep matching)."""
    _set_enabled(name, False)


@feeds.command("sync")
@click.option(
    "--once",
    "mode",
    flag_value="once",
    default=True,
    help="Sync every enabled feed until caught up, send feedback, exit (default).",
)
@click.option(
    "--follow",
    "mode",
    flag_value="follow",
    help="Keep going: sync each feed every polling interval until stopped.",
)
@click.option("--feed", "only", help="Sync this feed only (enabled or not).")
def feeds_sync(mode: str, only: str | None) -> None:
    """The feed worker: fetch, apply, checkpoint, send feedback."""
    settings = Settings()
    configure_logging(settings.log_level, settings.log_json)
    stop = stop_on_signals()
    with (
        session_factory(settings) as sessions,
        httpx.Client(timeout=settings.feed_timeout, follow_redirects=True) as http,
    ):
        runner = FeedRunner(
            sessions,
            adapter_factory(http, default_registry(), settings.secrets_file),
            stop=stop,
        )
        if mode == "follow":
            runner.follow()
            return
        try:
            reports = [runner.sync(only)] if only else runner.sync_all()
        except HashwallError as error:
            fail(error.detail)
    for report in reports:
        outcome = f"error: {report.error}" if report.error else "caught up"
        click.echo(
            f"{report.feed}: {report.records} records in {report.pages} pages, "
            f"{report.applied.added + report.applied.reactivated} added, "
            f"{report.applied.removed} removed, {report.rejected} rejected, "
            f"{report.feedback_sent} feedback sent; {outcome}"
        )
        if report.feedback_error:
            click.echo(
                f"warning: {report.feed}: feedback not sent, kept for the next sync: "
                f"{report.feedback_error}",
                err=True,
            )
    if any(report.error for report in reports):
        raise SystemExit(ExitCode.ERROR)
