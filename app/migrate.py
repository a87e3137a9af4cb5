"""Run Alembic migrations from code, for the CLI, the demo and the tests."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine, inspect, text
from sqlalchemy.exc import OperationalError

import migrations

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


def check_schema(engine: Engine) -> None:
    """Raise `SchemaOutOfDate` unless the database is at the newest migration."""
    head = migrations.HEAD
    try:
        with engine.connect() as connection:
            current = (
                connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
                if inspect(connection).has_table("alembic_version")
                else None
            )
    except OperationalError as error:
        raise SchemaOutOfDate(f"cannot open the database: {error.orig}") from None
    if current != head:
        raise SchemaOutOfDate(
            f"database schema is at {current or 'nothing'}, hashwall needs {head}: "
            "run `hashwall db upgrade`"
        )


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the database behind `engine` up to `revision`."""
    from alembic import command

    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
