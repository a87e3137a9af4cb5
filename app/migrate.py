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


def current_revision(engine: Engine) -> str | None:
    """The migration the database is at (None: no schema); raise `DatabaseUnreachable`."""
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
