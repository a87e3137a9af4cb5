"""`hashwall audit`: verify the chain, export rows."""

from __future__ import annotations

import csv
import json
import sys
from datetime import datetime

import click

from app.audit import store
from app.audit.chain import verify
from app.config import Settings
from app.console import ExitCode, as_utc, database

#: The columns of a CSV export, in order.
COLUMNS = ("id", "created_at", "actor", "action", "target", "details", "row_hash")


@click.group("audit")
def audit_group() -> None:
    """The audit trail: who changed what, hash-chained."""


@audit_group.command("verify")
def audit_verify() -> None:
    """Check the hash chain: exit 0 if intact, 1 naming the first bad row."""
    with database(Settings()) as session:
        checked, last, broken = verify(store.entries(session))
    if broken is not None:
        click.echo(
            f"audit chain broken at row {broken.row_id}: {broken.why} "
            f"({checked} rows before it are intact)",
            err=True,
        )
        sys.exit(ExitCode.ERROR)
    click.echo(f"audit chain intact: {checked} rows, last hash {last}")


@audit_group.command("export")
@click.option("--format", "fmt", type=click.Choice(["jsonl", "csv"]), default="jsonl")
@click.option("--actor")
@click.option("--action")
@click.option("--target")
@click.option("--since", type=click.DateTime(), help="From this time (UTC), inclusive.")
@click.option("--until", type=click.DateTime(), help="To this time (UTC), exclusive.")
def audit_export(
    fmt: str,
    actor: str | None,
    action: str | None,
    target: str | None,
    since: datetime | None,
    until: datetime | None,
) -> None:
    """Print audit rows, oldest first, as JSON lines or CSV, filtered as GET /v1/audit."""
    filters = store.Filters(actor, action, target, as_utc(since), as_utc(until))
    writer = csv.writer(sys.stdout) if fmt == "csv" else None
    if writer is not None:
        writer.writerow(COLUMNS)
    with database(Settings()) as session:
        for row in store.rows_in_order(session, filters):
            public = store.public(row)
            if writer is None:
                click.echo(json.dumps(public, ensure_ascii=False))
            else:
                public["details"] = json.dumps(public["details"], ensure_ascii=False)
                writer.writerow([public[c] for c in COLUMNS])
