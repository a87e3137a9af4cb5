"""Migrations create exactly the schema the models describe, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, inspect

import migrations
from app.migrate import SchemaOutOfDate, alembic_config, check_schema, upgrade
from app.models import Base


def test_head_is_alembic_head() -> None:
    """Servers check the schema against `migrations.HEAD`, not Alembic's scripts."""
    assert ScriptDirectory.from_config(alembic_config()).get_current_head() == migrations.HEAD


def test_migrations_match_models(engine: Engine) -> None:
    with engine.connect() as connection:
        context = MigrationContext.configure(connection)
        assert compare_metadata(context, Base.metadata) == []
    assert {"banks", "hashes", "api_keys", "verdict_log"} <= set(inspect(engine).get_table_names())


def test_downgrade_and_upgrade_again(engine: Engine) -> None:
    upgrade(engine, "head")
    from alembic import command

    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "base")
    assert "banks" not in inspect(engine).get_table_names()
    with pytest.raises(SchemaOutOfDate, match="schema nothing"):
        check_schema(engine)
    upgrade(engine, "0006")
    with pytest.raises(SchemaOutOfDate, match="schema 0006, hashwall needs 0007"):
        check_schema(engine)
    upgrade(engine)
    check_schema(engine)
    assert "banks" in inspect(engine).get_table_names()
