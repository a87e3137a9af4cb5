"""The service's own commands: serve, db, hash, index, demo."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import click

from app.config import Settings
from app.console import ExitCode, fail, schema_failure
from app.db import make_engine, make_session_factory
from app.migrate import SchemaOutOfDate, check_schema
from matcher.errors import MatcherError
from matcher.signals import Registry, Signal, default_registry


@click.command()
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
    from app.logs import configure_logging, json_lines_for

    settings = Settings()
    workers = workers or settings.workers
    configure_logging(settings.log_level, settings.log_json)
    engine = make_engine(settings.database_url)
    try:
        check_schema(engine)
    except SchemaOutOfDate as error:
        schema_failure(error)
    finally:
        engine.dispose()
    supervisor = [sys.executable, "-m", "app.supervise", host, str(port), str(workers)]
    supervisor += [settings.log_level, "1" if json_lines_for(settings.log_json) else "0"]
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(sys.executable, supervisor)


@click.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True)
def db_upgrade(revision: str) -> None:
    """Create or migrate the schema to the newest revision."""
    from app.db import describe_url
    from app.migrate import current_revision, upgrade

    settings = Settings()
    engine = make_engine(settings.database_url)
    try:
        before = current_revision(engine)
        upgrade(engine, revision)
        after = current_revision(engine)
    except SchemaOutOfDate as error:
        schema_failure(error)
    finally:
        engine.dispose()
    where = describe_url(settings.database_url)
    if before is None:
        click.echo(f"created the schema ({after}) in {where}")
    elif before == after:
        click.echo(f"{where} is already at {after}")
    else:
        click.echo(f"migrated {where} from {before} to {after}")


@click.command("hash")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="One JSON object per file.")
@click.option(
    "--variants",
    is_flag=True,
    help="Also print the query-side candidates /v1/match/media looks up (mirrored, rotated, "
    "trimmed, found inside a canvas, with caption bands filled in).",
)
@click.option(
    "--vpdq",
    "vpdq_only",
    is_flag=True,
    help="Print only the video's vpdq hash, in Meta's vpdq text format (one video file).",
)
def hash_command(files: tuple[str, ...], as_json: bool, variants: bool, vpdq_only: bool) -> None:
    """Print the hashes of image and video files (images: pdq with quality, phash, md5,
    sha256; videos: md5, sha256 and vpdq, shown as its identity and frame count)."""
    # Here, not at the top: `hashwall serve` runs in this process and must not load
    # OpenCV and PyAV, which only the hashing processes use.
    from matcher.media import hash_file

    settings = Settings()
    registry = default_registry()
    if vpdq_only:
        if len(files) != 1 or as_json or variants:
            raise click.UsageError("--vpdq takes one video file, without --json or --variants")
        print_vpdq(files[0], registry, settings)
        return
    failed = False
    for name in files:
        try:
            signals = hash_file(Path(name).read_bytes(), registry, settings.limits, variants)
        except MatcherError as error:
            click.echo(f"{name}: error: {error}", err=True)
            failed = True
            continue
        own = [s for s in signals if s.variant is None]
        extra = [s for s in signals if s.variant is not None]
        if as_json:
            record: dict[str, Any] = {
                "file": name,
                "hashes": [
                    {"signal_type": s.signal_type, "value": s.value, "quality": s.quality}
                    for s in own
                ],
            }
            if variants:
                record["candidates"] = [
                    {
                        "variant": s.variant,
                        "signal_type": s.signal_type,
                        "value": s.value,
                        "quality": s.quality,
                    }
                    for s in extra
                ]
            click.echo(json.dumps(record))
        else:
            for s in signals:
                quality = f" quality={s.quality}" if s.quality is not None else ""
                variant = f" variant={s.variant}" if s.variant else ""
                click.echo(f"{name}\t{s.signal_type}\t{one_line(registry, s)}{quality}{variant}")
    if failed:
        sys.exit(ExitCode.PARTIAL if len(files) > 1 else ExitCode.ERROR)


def one_line(registry: Registry, signal: Signal) -> str:
    """A hash's text form on one line: a video's vpdq as its identity and frame count."""
    signal_type = registry.get(signal.signal_type)
    if not signal_type.sequence:
        return signal.value
    frames = signal_type.parse_frames(signal.value)
    count = len(frames.frames) if frames else 0
    return f"{signal_type.format(signal_type.parse(signal.value))} frames={count}"


def print_vpdq(name: str, registry: Registry, settings: Settings) -> None:
    """Print a video file's vpdq hash in Meta's text format, or fail naming the file."""
    from matcher.media import hash_file

    try:
        signals = hash_file(Path(name).read_bytes(), registry, settings.limits)
    except MatcherError as error:
        fail(f"{name}: {error}")
    found = next((s for s in signals if s.signal_type == "vpdq"), None)
    if found is None:
        fail(f"{name}: not a video")
    click.echo(found.value, nl=False)


@click.group("index")
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
    from app.live_index import PERCEPTUAL_INDEXES, LiveIndex
    from app.logs import configure_logging
    from app.replica import ChangeFollower, restore_index

    settings = Settings()
    configure_logging(settings.log_level, settings.log_json)
    if settings.snapshot_dir is None:
        fail("set HASHWALL_SNAPSHOT_DIR to the directory snapshots go to")
        return
    engine = make_engine(settings.database_url)
    try:
        check_schema(engine)
    except SchemaOutOfDate as error:
        schema_failure(error)
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
                click.echo(f"snapshot {path} at change {written}")
                for signal_type, size in sorted(live.sizes().items()):
                    click.echo(f"  {signal_type:<8} {size:>12,} hashes")
        if every is None:
            break
        time.sleep(every)
        follower.catch_up()
    engine.dispose()


@click.command()
def demo() -> None:
    """Create the database, a demo bank with sample hashes, and print a demo key."""
    from app.demo import set_up_demo

    settings = Settings()
    result = set_up_demo(settings)
    click.echo(result)
