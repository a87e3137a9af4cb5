"""The `hashwall` command: serve, hash, banks, hashes, keys, db, demo.

It calls the same store, matcher and policy modules as the HTTP API.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import IntEnum
from pathlib import Path
from typing import Any

import click
from sqlalchemy.orm import Session

from app.auth import SCOPES, create_key, list_keys, revoke_key
from app.config import Settings
from app.db import make_engine, make_session_factory
from app.errors import HashwallError
from app.importer import Reject, detect_format, read_records
from app.migrate import SchemaOutOfDate, check_schema
from app.models import Bank
from app.policy import Action
from app.store import banks as bank_store
from app.store.hashes import NewHash, add_hashes
from matcher.errors import MatcherError
from matcher.media import hash_file
from matcher.signals import default_registry


class ExitCode(IntEnum):
    """What the process exit status means."""

    OK = 0
    ERROR = 1
    USAGE = 2
    PARTIAL = 3  # the command did its work but some records were rejected


@contextmanager
def database(settings: Settings) -> Iterator[Session]:
    """A session on the configured database, committed if the block succeeds."""
    engine = make_engine(settings.database_url)
    try:
        check_schema(engine)
        with make_session_factory(engine)() as session, session.begin():
            yield session
    except SchemaOutOfDate as error:
        fail(str(error))
    finally:
        engine.dispose()


def fail(message: str, code: ExitCode = ExitCode.ERROR) -> None:
    """Print an error and exit."""
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


def show(
    rows: list[dict[str, Any]], as_json: bool, line: str, **derived: Callable[[dict], str]
) -> None:
    """Print rows as a JSON array, or one formatted line each (with derived fields)."""
    if as_json:
        click.echo(json.dumps(rows))
        return
    for row in rows:
        click.echo(line.format(**row, **{k: f(row) for k, f in derived.items()}))


@click.group()
@click.version_option(package_name="hashwall")
def main() -> None:
    """hashwall: block re-uploads of reported intimate images by their hashes."""


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    help="Processes serving requests, each with its own index kept in step by the change "
    "log.  [default: HASHWALL_WORKERS, or 1]",
)
def serve(host: str, port: int, workers: int | None) -> None:
    """Serve the HTTP API."""
    import uvicorn

    from app.logs import configure_logging
    from app.main import create_app

    settings = Settings()
    workers = workers or settings.workers
    configure_logging(settings.log_level, settings.log_json)
    engine = make_engine(settings.database_url)
    try:
        check_schema(engine)
    except SchemaOutOfDate as error:
        fail(str(error))
    finally:
        engine.dispose()
    if workers == 1:
        app = create_app(settings)
        uvicorn.run(app, host=host, port=port, log_config=None, access_log=False)
        return
    # Several workers need an import string: each process builds its own app and index.
    uvicorn.run(
        "app.main:app_from_environment",
        factory=True,
        workers=workers,
        host=host,
        port=port,
        log_config=None,
        access_log=False,
    )


@main.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True)
def db_upgrade(revision: str) -> None:
    """Create or migrate the schema to the newest revision."""
    from app.migrate import upgrade

    settings = Settings()
    engine = make_engine(settings.database_url)
    try:
        upgrade(engine, revision)
    finally:
        engine.dispose()
    click.echo(f"database at {revision}")


@main.command("hash")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="One JSON object per file.")
def hash_command(files: tuple[str, ...], as_json: bool) -> None:
    """Print the hashes of image files (pdq with quality, phash, md5, sha256)."""
    settings = Settings()
    registry = default_registry()
    failed = False
    for name in files:
        try:
            signals = hash_file(Path(name).read_bytes(), registry, settings.limits)
        except MatcherError as error:
            click.echo(f"{name}: error: {error}", err=True)
            failed = True
            continue
        if as_json:
            record = {
                "file": name,
                "hashes": [
                    {"signal_type": s.signal_type, "value": s.value, "quality": s.quality}
                    for s in signals
                ],
            }
            click.echo(json.dumps(record))
        else:
            for s in signals:
                quality = f" quality={s.quality}" if s.quality is not None else ""
                click.echo(f"{name}\t{s.signal_type}\t{s.value}{quality}")
    if failed:
        sys.exit(ExitCode.PARTIAL if len(files) > 1 else ExitCode.ERROR)


@main.group()
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
        state=lambda r: "enabled" if r["enabled"] else "disabled",
    )


@main.group()
def hashes() -> None:
    """Hashes in banks."""


@hashes.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--bank", required=True, help="Target bank.")
@click.option("--format", "fmt", type=click.Choice(["auto", "csv", "jsonl"]), default="auto")
@click.option("--source", default="import", show_default=True)
@click.option("--batch-size", default=5000, show_default=True, type=int)
def hashes_import(file: Path, bank: str, fmt: str, source: str, batch_size: int) -> None:
    """Import hashes from CSV or JSONL (signal_type, value[, external_id]).

    Rejected records are reported with their line numbers; the rest are imported.
    A running server picks the new hashes up when it restarts.
    """
    settings = Settings()
    registry = default_registry()
    totals = {"added": 0, "reactivated": 0, "updated": 0, "unchanged": 0}
    rejects: list[Reject] = []
    with file.open(encoding="utf-8", newline="") as stream:
        first = stream.readline()
        stream.seek(0)
        fmt = detect_format(file, first) if fmt == "auto" else fmt
        try:
            with database(settings) as session:
                target = bank_store.get_bank(session, bank)
                batch: list[NewHash] = []
                for _, record in read_records(stream, fmt, registry):
                    if isinstance(record, Reject):
                        rejects.append(record)
                        click.echo(f"{file}:{record.line}: rejected: {record.reason}", err=True)
                        continue
                    batch.append(record)
                    if len(batch) >= batch_size:
                        _flush(session, target, batch, source, totals)
                if batch:
                    _flush(session, target, batch, source, totals)
        except HashwallError as error:
            fail(error.detail)
    click.echo(
        f"imported into {bank}: {totals['added']} added, {totals['reactivated']} reactivated, "
        f"{totals['updated']} updated, {totals['unchanged']} unchanged, {len(rejects)} rejected"
    )
    if rejects:
        sys.exit(ExitCode.PARTIAL)


def _flush(
    session: Session, bank: Bank, batch: list[NewHash], source: str, totals: dict[str, int]
) -> None:
    result = add_hashes(session, bank, batch, source)
    for name in totals:
        totals[name] += getattr(result, name)
    batch.clear()


@main.group("index")
def index_group() -> None:
    """Snapshots of the in-memory index, so servers restart in seconds."""


@index_group.command("snapshot")
@click.option(
    "--every",
    type=click.FloatRange(min=1),
    help="Keep running: follow the change log and write a snapshot every this many "
    "seconds when something changed.",
)
def index_snapshot(every: float | None) -> None:
    """Write a snapshot of the index to HASHWALL_SNAPSHOT_DIR (the newest few are kept)."""
    import time

    from app import snapshots
    from app.live_index import LiveIndex
    from app.logs import configure_logging
    from app.main import PERCEPTUAL_INDEXES, restore_index
    from app.replica import ChangeFollower

    settings = Settings()
    configure_logging(settings.log_level, settings.log_json)
    if settings.snapshot_dir is None:
        fail("set HASHWALL_SNAPSHOT_DIR to the directory snapshots go to")
        return
    engine = make_engine(settings.database_url)
    try:
        check_schema(engine)
    except SchemaOutOfDate as error:
        fail(str(error))
    sessions = make_session_factory(engine)
    live = LiveIndex(default_registry(), PERCEPTUAL_INDEXES[settings.index_backend])
    follower = ChangeFollower(engine, sessions, live, settings.sync_interval)
    restore_index(settings, sessions, live, follower)
    written = -1
    while True:
        with follower.applying:
            if follower.cursor != written:
                path = snapshots.write(
                    live, settings.snapshot_dir, follower.cursor, settings.index_backend
                )
                written = follower.cursor
                click.echo(f"snapshot {path} (change {written}, {live.sizes()})")
        if every is None:
            break
        time.sleep(every)
        follower.catch_up()
    engine.dispose()


@main.group()
def keys() -> None:
    """API keys."""


@keys.command("create")
@click.option("--name", required=True)
@click.option("--scopes", required=True, help=f"Comma-separated: {', '.join(sorted(SCOPES))}.")
@click.option("--json", "as_json", is_flag=True, help='Print {"key": ...} as JSON.')
def keys_create(name: str, scopes: str, as_json: bool) -> None:
    """Create a key. Its secret is printed once and cannot be shown again."""
    scope_list = [s.strip() for s in scopes.split(",") if s.strip()]
    try:
        with database(Settings()) as session:
            secret = create_key(session, name, scope_list)
    except HashwallError as error:
        fail(error.detail)
    if as_json:
        click.echo(json.dumps({"key": secret, "name": name, "scopes": sorted(scope_list)}))
    else:
        click.echo(secret)


@keys.command("list")
@click.option("--json", "as_json", is_flag=True)
def keys_list(as_json: bool) -> None:
    """List keys (names, prefixes and scopes, never secrets)."""
    with database(Settings()) as session:
        rows: list[dict[str, Any]] = [
            {
                "name": k.name,
                "prefix": k.prefix,
                "scopes": k.scopes,
                "created_at": k.created_at.isoformat(),
                "revoked": k.revoked_at is not None,
            }
            for k in list_keys(session)
        ]
    show(
        rows,
        as_json,
        "{name}\t{prefix}…\t{scope_list}\t{state}",
        scope_list=lambda r: ",".join(r["scopes"]),
        state=lambda r: "revoked" if r["revoked"] else "active",
    )


@keys.command("revoke")
@click.argument("name")
def keys_revoke(name: str) -> None:
    """Revoke a key; it stops working on its next request."""
    try:
        with database(Settings()) as session:
            revoke_key(session, name)
    except HashwallError as error:
        fail(error.detail)
    click.echo(f"key {name} revoked")


@main.command()
def demo() -> None:
    """Create the database, a demo bank with sample hashes, and print a demo key."""
    from app.demo import set_up_demo

    settings = Settings()
    result = set_up_demo(settings)
    click.echo(result)


if __name__ == "__main__":
    main()
