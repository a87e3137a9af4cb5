"""`hashwall banks` and `hashwall hashes`: banks, and the hashes in them, as the API's
/v1/banks routes offer them."""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

import click

from app.audit import store as audit
from app.config import Settings
from app.console import ExitCode, cli_actor, database, fail, session_factory, show
from app.errors import HashwallError
from app.feeds.base import Checkpoint, FeedError
from app.feeds.files import FORMATS, PAGE_LINES, FileFeed
from app.feeds.runner import Applied, apply_records
from app.models import Bank, HashRecord
from app.policy import Action
from app.progress import import_progress
from app.store import banks as bank_store
from app.store import hashes as hash_store
from matcher.errors import MatcherError
from matcher.signals import default_registry


@click.group()
def banks() -> None:
    """Banks of hashes."""


@banks.command("create")
@click.argument("name")
@click.option(
    "--action", type=click.Choice([a.value for a in Action]), default="block", show_default=True
)
@click.option("--disabled", is_flag=True, help="Create the bank disabled.")
@click.option("--description", default="")
def banks_create(name: str, action: str, disabled: bool, description: str) -> None:
    """Create a bank."""
    try:
        with database(Settings()) as session:
            bank_store.create_bank(
                session, default_registry(), name, Action(action), not disabled, None, description
            )
            audit.append(
                session,
                cli_actor(),
                "bank.create",
                f"bank:{name}",
                {"action": action, "enabled": not disabled, "description": description},
            )
    except HashwallError as error:
        fail(error.detail)
    click.echo(f"bank {name} created ({action})")


@banks.command("list")
@click.option("--json", "as_json", is_flag=True)
def banks_list(as_json: bool) -> None:
    """List banks with their active hash counts."""
    with database(Settings()) as session:
        counts = bank_store.active_counts(session)
        rows = [
            {
                "name": b.name,
                "action": b.action,
                "enabled": b.enabled,
                "hash_count": counts.get(b.id, 0),
            }
            for b in bank_store.list_banks(session)
        ]
    show(
        rows,
        as_json,
        "{name}\t{action}\t{state}\t{hash_count} hashes",
        "no banks yet: create one with `hashwall banks create NAME`",
        state=lambda r: "enabled" if r["enabled"] else "disabled",
    )


@click.group()
def hashes() -> None:
    """Hashes in banks."""


@hashes.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--bank", required=True, help="Target bank.")
@click.option("--format", "fmt", type=click.Choice(["auto", *FORMATS]), default="auto")
@click.option("--source", default="import", show_default=True)
@click.option("--batch-size", default=PAGE_LINES, show_default=True, type=click.IntRange(1))
def hashes_import(file: Path, bank: str, fmt: str, source: str, batch_size: int) -> None:
    """Import hashes from CSV, JSONL or pdq text (signal_type, value[, external_id]).

    Records may carry a status: withdrawn or deleted ones stop matching. The file is
    read in constant memory and committed a batch at a time: importing a file again, or
    again after an interruption, ends in the same state. Rejected records are reported
    with their line numbers. Running servers pick the changes up within a second.
    """
    settings = Settings()
    feed = FileFeed(str(file), default_registry(), fmt=fmt, page_lines=batch_size)
    totals = Applied()
    rejected = 0
    with session_factory(settings) as sessions, import_progress(file.stat().st_size) as advance:
        try:
            with sessions() as session:
                bank_id = bank_store.get_bank(session, bank).id
            checkpoint: Checkpoint | None = None
            while True:
                page = feed.fetch(checkpoint)
                with sessions() as session, session.begin():
                    target = session.get(Bank, bank_id)
                    if target is None:
                        fail(f"bank {bank!r} was deleted during the import")
                    applied = apply_records(
                        session, target, page.records, source, retire_any_source=True
                    )
                    audit.append(
                        session,
                        cli_actor(),
                        "hashes.import",
                        f"bank:{bank}",
                        {
                            "file": file.name,
                            "count": len(page.records),
                            "added": applied.added + applied.reactivated,
                            "removed": applied.removed,
                            "source": source,
                            "digest": audit.digest(
                                f"{r.signal_type}:{r.value}:{r.status}" for r in page.records
                            ),
                        },
                    )
                    totals += applied
                for reject in page.rejects:
                    where = f"{file}:{reject.line}" if reject.line is not None else str(file)
                    click.echo(f"{where}: rejected: {reject.reason}", err=True)
                rejected += len(page.rejects)
                advance(page.checkpoint["offset"], page.checkpoint["line"])
                checkpoint = page.checkpoint
                if page.done:
                    break
        except (HashwallError, FeedError) as error:
            fail(str(getattr(error, "detail", error)))
    # Every line read is counted once: a hash on several lines counts where its last
    # line does (the later line wins), the others as superseded.
    click.echo(
        f"imported into {bank}: {totals.added} added, {totals.reactivated} reactivated, "
        f"{totals.updated} updated, {totals.unchanged} unchanged, {rejected} rejected, "
        f"{totals.removed} removed, {totals.not_held} withdrawals of hashes not held, "
        f"{totals.superseded} superseded by a later line for the same hash"
    )
    if rejected:
        sys.exit(ExitCode.PARTIAL)


def _threshold(value: str) -> tuple[str, dict[str, int]]:
    """`pdq=31,47` as (signal type, {"match", "review"})."""
    signal_type, _, distances = value.partition("=")
    try:
        match, review = (int(d) for d in distances.split(","))
    except ValueError:
        raise click.BadParameter(f"{value!r}: expected SIGNAL=MATCH,REVIEW (pdq=31,47)") from None
    return signal_type, {"match": match, "review": review}


@banks.command("update")
@click.argument("name")
@click.option("--action", type=click.Choice([a.value for a in Action]))
@click.option("--enable/--disable", "enabled", default=None, help="Turn the bank on or off.")
@click.option("--description")
@click.option("--queue-blocks/--no-queue-blocks", default=None, help="Queue blocks for review.")
@click.option(
    "--threshold",
    "thresholds",
    multiple=True,
    metavar="SIGNAL=MATCH,REVIEW",
    help="Distances for a signal type, e.g. pdq=31,47 (repeatable).",
)
def banks_update(
    name: str,
    action: str | None,
    enabled: bool | None,
    description: str | None,
    queue_blocks: bool | None,
    thresholds: tuple[str, ...],
) -> None:
    """Change a bank, as PATCH /v1/banks/NAME: effective in every server within a second."""
    changes: dict[str, object] = {
        k: v
        for k, v in {
            "action": action,
            "enabled": enabled,
            "description": description,
            "queue_blocks": queue_blocks,
        }.items()
        if v is not None
    }
    if thresholds:
        changes["thresholds"] = dict(_threshold(t) for t in thresholds)
    if not changes:
        fail(
            "nothing to change: give --action, --enable/--disable, --description, "
            "--queue-blocks or --threshold",
            ExitCode.USAGE,
        )
    try:
        with database(Settings()) as session:
            bank = bank_store.get_bank(session, name)
            bank_store.update_bank(session, default_registry(), bank, changes)
            audit.append(session, cli_actor(), "bank.update", f"bank:{name}", changes)
    except HashwallError as error:
        fail(error.detail)
    click.echo(f"bank {name} updated: " + ", ".join(f"{k}={v}" for k, v in changes.items()))


@banks.command("delete")
@click.argument("name")
@click.confirmation_option(prompt="Delete the bank and every hash in it?")
def banks_delete(name: str) -> None:
    """Delete a bank and every hash in it, as DELETE /v1/banks/NAME."""
    try:
        with database(Settings()) as session:
            removed = bank_store.delete_bank(session, bank_store.get_bank(session, name))
            count = sum(len(ids) for ids in removed.values())
            audit.append(session, cli_actor(), "bank.delete", f"bank:{name}", {"hashes": count})
    except HashwallError as error:
        fail(error.detail)
    click.echo(f"bank {name} deleted with its {count} active hashes")


#: The columns `hashes export` writes and `hashes import` reads back.
EXPORT_COLUMNS = ("signal_type", "value", "quality", "external_id", "case_ref", "status")


def _record(record: HashRecord) -> dict[str, object]:
    return {column: getattr(record, column) for column in EXPORT_COLUMNS}


@hashes.command("list")
@click.argument("bank")
@click.option("--signal-type")
@click.option("--all", "everything", is_flag=True, help="Withdrawn and deleted ones too.")
@click.option("--limit", type=click.IntRange(min=1), default=100, show_default=True)
@click.option("--json", "as_json", is_flag=True)
def hashes_list(
    bank: str, signal_type: str | None, everything: bool, limit: int, as_json: bool
) -> None:
    """The first hashes of a bank, oldest first (all of them: `hashes export`)."""
    try:
        with database(Settings()) as session:
            target = bank_store.get_bank(session, bank)
            rows = [
                {"id": r.id, **_record(r), "confirmed": r.confirmed, "source": r.source}
                for r in hash_store.bank_hashes(session, target, signal_type, not everything, limit)
            ]
    except HashwallError as error:
        fail(error.detail)
    show(
        rows,
        as_json,
        "{id}\t{signal_type}\t{value}\t{quality_text}\t{status}\t{external_text}",
        f"bank {bank} holds no such hashes",
        quality_text=lambda r: "" if r["quality"] is None else str(r["quality"]),
        external_text=lambda r: r["external_id"] or "",
    )


@hashes.command("export")
@click.argument("bank")
@click.option("--format", "fmt", type=click.Choice(["csv", "jsonl"]), default="csv")
@click.option("--all", "everything", is_flag=True, help="Withdrawn and deleted ones too.")
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), help="Default: stdout.")
def hashes_export(bank: str, fmt: str, everything: bool, output: Path | None) -> None:
    """Write a bank's hashes in a format `hashes import` reads back (so a bank round-trips).
    Videos (vpdq) are left out and counted on stderr: their frames go with `hashwall hash
    --vpdq` files."""
    out = output.open("w", newline="") if output else sys.stdout
    written = videos = 0
    try:
        with database(Settings()) as session:
            target = bank_store.get_bank(session, bank)
            writer = csv.DictWriter(out, EXPORT_COLUMNS) if fmt == "csv" else None
            if writer is not None:
                writer.writeheader()
            sequences = default_registry().sequences
            for record in hash_store.bank_hashes(session, target, active_only=not everything):
                if record.signal_type in sequences:
                    videos += 1
                    continue
                row = _record(record)
                if writer is not None:
                    writer.writerow(row)
                else:
                    out.write(json.dumps({k: v for k, v in row.items() if v is not None}) + "\n")
                written += 1
    except HashwallError as error:
        fail(error.detail)
    finally:
        if output:
            out.close()
    note = f", {videos} videos left out (vpdq)" if videos else ""
    click.echo(f"{written} hashes of {bank} exported{note}", err=True)


@hashes.command("remove")
@click.argument("bank")
@click.argument("signal_type")
@click.argument("value")
def hashes_remove(bank: str, signal_type: str, value: str) -> None:
    """Stop a hash matching, as DELETE /v1/banks/BANK/hashes/SIGNAL/VALUE (kept as a
    tombstone for provenance)."""
    try:
        canonical = (
            default_registry()
            .get(signal_type)
            .format(default_registry().get(signal_type).parse(value))
        )
        with database(Settings()) as session:
            target = bank_store.get_bank(session, bank)
            record = hash_store.remove_hash(session, target, signal_type, canonical)
            audit.append(
                session,
                cli_actor(),
                "hash.remove",
                f"bank:{bank}",
                {"hash_id": record.id, "signal_type": signal_type, "value": record.value},
            )
    except (HashwallError, MatcherError) as error:
        fail(str(getattr(error, "detail", error)))
    click.echo(f"{signal_type} hash {record.id} removed from {bank}")
