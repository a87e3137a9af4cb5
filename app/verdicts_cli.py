"""`hashwall verdicts`: reading the verdict log."""

from __future__ import annotations

from datetime import datetime

import click

from app.config import Settings
from app.console import as_utc, database, show
from app.store import verdicts


@click.group("verdicts")
def verdicts_group() -> None:
    """The verdict log: what was decided, for which content, under which policy."""


@verdicts_group.command("list")
@click.option("--since", type=click.DateTime(), help="From this time (UTC), inclusive.")
@click.option("--until", type=click.DateTime(), help="To this time (UTC), exclusive.")
@click.option("--verdict", type=click.Choice(["block", "review", "allow"]))
@click.option("--content-id")
@click.option("--limit", type=click.IntRange(min=1), default=100, show_default=True)
@click.option("--json", "as_json", is_flag=True)
def verdicts_list(
    since: datetime | None,
    until: datetime | None,
    verdict: str | None,
    content_id: str | None,
    limit: int,
    as_json: bool,
) -> None:
    """Verdicts logged, newest first, filtered by time, verdict and content id."""
    with database(Settings()) as session:
        rows = [
            {
                "id": e.id,
                "created_at": e.created_at.isoformat(),
                "key_name": e.key_name,
                "content_id": e.content_id,
                "signal_types": e.signal_types,
                "verdict": e.verdict,
                "reason": e.reason,
                "matches": e.matches,
                "policy_version": e.policy_version,
            }
            for e in verdicts.recent(
                session,
                limit,
                since=as_utc(since),
                until=as_utc(until),
                verdict=verdict,
                content_id=content_id,
            )
        ]
    show(
        rows,
        as_json,
        "{created_at}\t{verdict}\t{reason}\t{content}\t{key_name}\t{banks}",
        "no verdicts logged that match",
        content=lambda r: r["content_id"] or "-",
        banks=lambda r: ",".join(sorted({m["bank"] for m in r["matches"]})) or "-",
    )
