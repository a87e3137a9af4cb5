"""Migrations create exactly the schema the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, inspect

from app.migrate import upgrade
from app.models import Base


def test_migrations_match_models(engine: Engine) -> None:
    with engine.connect() as connection:
        context = MigrationContext.configure(connection)
        assert compare_metadata(context, Base.metadata) == []
    assert {"banks", "hashes", "api_keys", "verdict_log"} <= set(inspect(engine).get_table_names())


def test_downgrade_and_upgrade_again(engine: Engine) -> None:
    upgrade(engine, "head")
    from alembic import command

    from app.migrate import alembic_config

    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "base")
    assert "banks" not in inspect(engine).get_table_names()
    upgrade(engine)
    assert "banks" in inspect(engine).get_table_names()
