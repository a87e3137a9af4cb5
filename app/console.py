"""What every `hashwall` subcommand shares: exit codes, database sessions, output."""

from __future__ import annotations

import json
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from enum import IntEnum
from typing import Any, NoReturn

import click
from sqlalchemy.orm import Session, sessionmaker

from app.config import Settings
from app.db import make_engine, make_session_factory
from app.migrate import DatabaseUnreachable, SchemaOutOfDate, check_schema


class ExitCode(IntEnum):
    """What the process exit status means."""

    OK = 0
    ERROR = 1
    USAGE = 2
    PARTIAL = 3  # the command did its work but some records were rejected
    UNAVAILABLE = 4  # the database could not be reached


@contextmanager
def session_factory(settings: Settings) -> Iterator[sessionmaker[Session]]:
    """Sessions on the configured database, for commands that commit step by step."""
    engine = make_engine(settings.database_url)
    try:
        check_schema(engine)
        yield make_session_factory(engine)
    except SchemaOutOfDate as error:
        schema_failure(error)
    finally:
        engine.dispose()


@contextmanager
def database(settings: Settings) -> Iterator[Session]:
    """A session on the configured database, committed if the block succeeds."""
    engine = make_engine(settings.database_url)
    try:
        check_schema(engine)
        with make_session_factory(engine)() as session, session.begin():
            yield session
    except SchemaOutOfDate as error:
        schema_failure(error)
    finally:
        engine.dispose()


def stop_on_signals() -> threading.Event:
    """An event set by SIGTERM or SIGINT: how a long-running command learns to stop."""
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    return stop


def cli_actor() -> str:
    """How the audit trail names a person at the command line: `cli:` and the OS user."""
    import getpass

    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


def schema_failure(error: SchemaOutOfDate) -> NoReturn:
    """Exit with what `check_schema` found: the database unreachable, or not migrated."""
    unreachable = isinstance(error, DatabaseUnreachable)
    fail(str(error), ExitCode.UNAVAILABLE if unreachable else ExitCode.ERROR)


def as_utc(value: datetime | None) -> datetime | None:
    """A `--since`/`--until` time as UTC (click's DateTime gives naive times)."""
    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


def fail(message: str, code: ExitCode = ExitCode.ERROR) -> NoReturn:
    """Print an error and exit."""
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


def show(
    rows: list[dict[str, Any]],
    as_json: bool,
    line: str,
    empty: str = "nothing to list",
    **derived: Callable[[dict], str],
) -> None:
    """Print rows as a JSON array, or as a table, a row a line (`line` formats one, its
    columns separated by tabs, with derived fields), or say `empty` when there are none
    (an empty JSON array for scripts)."""
    if as_json:
        click.echo(json.dumps(rows))
        return
    if not rows:
        click.echo(empty)
        return
    cells = [
        line.format(**row, **{k: f(row) for k, f in derived.items()}).split("\t") for row in rows
    ]
    widths = [max(len(c[i]) for c in cells if i < len(c)) for i in range(max(map(len, cells)))]
    for row_cells in cells:
        # Columns padded to their widest cell, for people; scripts read --json.
        padded = [cell.ljust(width) for cell, width in zip(row_cells, widths, strict=False)]
        click.echo("  ".join(padded).rstrip())
