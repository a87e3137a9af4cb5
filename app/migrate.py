"""Run Alembic migrations from code, for the CLI, the demo and the tests."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine, inspect, text
from sqlalchemy.exc import OperationalError

import migrations
from app.db import describe_url, unreachable

if TYPE_CHECKING:
    from alembic.config import Config


def alembic_config(url: str | None = None) -> Config:
    """An Alembic config pointing at hashwall's migrations, with no ini file needed."""
    # Alembic is imported where migrations run, not by every server process.
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(Path(migrations.__file__).parent))
    if url:
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


class SchemaOutOfDate(RuntimeError):
    """The database has not been migrated to the schema this hashwall needs."""


class DatabaseUnreachable(SchemaOutOfDate):
    """The database could not be opened at all."""


def missing_file(engine: Engine) -> Path | None:
    """The absolute path of a SQLite database file that does not exist yet, if it is one:
    connecting would create it, empty."""
    url = engine.url
    name = url.database or ""
    if url.get_backend_name() != "sqlite" or name in ("", ":memory:") or name.startswith("file:"):
        return None
    path = Path(name)
    return None if path.exists() else path.resolve()


def current_revision(engine: Engine) -> str | None:
    """The migration the database is at (None: no schema, or no SQLite file yet, which is
    then not created); raise `DatabaseUnreachable`."""
    if missing_file(engine) is not None:
        return None
    try:
        with engine.connect() as connection:
            return (
                connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
                if inspect(connection).has_table("alembic_version")
                else None
            )
    except OperationalError as error:
        raise DatabaseUnreachable(unreachable(_url(engine), error)) from None


def check_schema(engine: Engine) -> None:
    """Raise `SchemaOutOfDate` unless the database is at the newest migration."""
    head = migrations.HEAD
    missing = missing_file(engine)
    if missing is not None:
        raise SchemaOutOfDate(
            f"there is no database at {missing}: create it with `hashwall db upgrade` (or "
            "`hashwall demo`), or point HASHWALL_DATABASE_URL at the one you mean (a relative "
            "sqlite:/// path is taken from the current directory)"
        )
    current = current_revision(engine)
    if current != head:
        raise SchemaOutOfDate(
            f"the database at {describe_url(_url(engine))} has schema "
            f"{current or 'nothing'}, hashwall needs {head}: run `hashwall db upgrade` "
            "(with HASHWALL_DATABASE_URL pointing at it)"
        )


def _url(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=False)


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the database behind `engine` up to `revision`."""
    from alembic import command

    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
