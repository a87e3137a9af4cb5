"""`hashwall ledger`: whether a content id is recorded, and forgetting one."""

from __future__ import annotations

import json

import click

from app.audit import store as audit
from app.config import Settings
from app.console import cli_actor, database, fail
from app.errors import HashwallError
from app.ledger import store
from app.ledger.record import checked_content_id
from app.models import utcnow


def _checked(content_id: str) -> str:
    try:
        return checked_content_id(content_id)
    except HashwallError as error:
        fail(error.detail)


@click.group("ledger")
def ledger_group() -> None:
    """The content ledger: hashes of uploads that named a content id (never the media)."""


@ledger_group.command("show")
@click.argument("content_id")
@click.option("--json", "as_json", is_flag=True, help="Print JSON, as GET /v1/ledger/ID.")
def ledger_show(content_id: str, as_json: bool) -> None:
    """Whether CONTENT_ID is recorded, when, and how many hashes of each type (never
    the hashes)."""
    with database(Settings()) as session:
        recorded = store.describe(session, _checked(content_id))
    if as_json:
        body: dict[str, object] = {"content_id": content_id, "recorded": recorded is not None}
        if recorded is not None:
            body |= {
                "first_recorded_at": recorded.first_recorded_at.isoformat(),
                "last_recorded_at": recorded.last_recorded_at.isoformat(),
                "hashes": recorded.hashes,
            }
        click.echo(json.dumps(body))
    elif recorded is None:
        click.echo(f"{content_id}: not recorded")
    else:
        counts = ", ".join(f"{n} {signal}" for signal, n in recorded.hashes.items())
        click.echo(
            f"{content_id}: recorded {recorded.first_recorded_at.isoformat()} to "
            f"{recorded.last_recorded_at.isoformat()} ({counts})"
        )


@ledger_group.command("forget")
@click.argument("content_id")
def ledger_forget(content_id: str) -> None:
    """Forget CONTENT_ID at once (the platform deleted it), as DELETE /v1/ledger/ID."""
    with database(Settings()) as session:
        forgotten = store.forget(session, _checked(content_id), utcnow())
        audit.append(
            session, cli_actor(), "ledger.forget", f"content:{content_id}", {"hashes": forgotten}
        )
    click.echo(f"{content_id}: {forgotten} recorded hashes forgotten")
