"""Engine and session factory built from `Settings`; nothing is connected at import time."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, create_engine, event, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.orm import Session, sessionmaker


def make_engine(url: str) -> Engine:
    """An engine for `url`, with SQLite made safe for a multi-threaded web server.

    Statement parameters stay out of error messages: they are hash values of uploads
    (the verdict log's and the ledger's rows), which no log may hold."""
    if url.startswith("sqlite"):
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": 30}, hide_parameters=True
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):  # type: ignore[no-untyped-def]
            cursor = dbapi_connection.cursor()
            # WAL lets readers go on while one writer commits; foreign keys are off by default.
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        return engine
    return create_engine(
        url, pool_size=10, max_overflow=20, pool_pre_ping=True, hide_parameters=True
    )


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions that keep loaded objects usable after commit."""
    return sessionmaker(engine, expire_on_commit=False)


def describe_url(url: str) -> str:
    """A database URL fit for messages: the password masked, a SQLite file's path made
    absolute (a relative one resolves against the current directory)."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        return "an unparseable database URL"
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        parsed = parsed.set(database=str(Path(parsed.database).resolve()))
    return parsed.render_as_string(hide_password=True)


def unreachable(url: str, error: BaseException) -> str:
    """One line saying which database could not be reached, and why."""
    reason = str(getattr(error, "orig", None) or error).strip().splitlines()
    return f"cannot reach the database at {describe_url(url)}: {reason[0] if reason else error}"
