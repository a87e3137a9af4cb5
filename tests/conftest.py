"""Fixtures: every API test runs on SQLite and on the real PostgreSQL, each in isolation."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from urllib.parse import quote

import psycopg
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from app.auth import SCOPES, create_key
from app.config import Settings
from app.db import make_engine, make_session_factory
from app.main import create_app
from app.migrate import upgrade

POSTGRES_DSN = os.environ.get("HASHWALL_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")


def postgres_schema_url(schema: str) -> str:
    """A URL whose connections use `schema` first on their search path."""
    return f"{POSTGRES_DSN}?options={quote(f'-csearch_path={schema}')}"


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """A fresh, empty database: a SQLite file, or a PostgreSQL schema of its own."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'hashwall.db'}"
        return
    schema = f"test_{uuid.uuid4().hex[:12]}"
    try:
        admin = psycopg.connect(POSTGRES_DSN, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as error:
        # An unreachable PostgreSQL is a failure, never a silent skip: the PostgreSQL path
        # is half of what these tests prove.
        pytest.fail(
            f"PostgreSQL at {POSTGRES_DSN} is unreachable ({error}); start it with "
            "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start"
        )
    with admin:
        admin.execute(f'CREATE SCHEMA "{schema}"')
        try:
            yield postgres_schema_url(schema)
        finally:
            admin.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture
def settings(database_url: str) -> Settings:
    # Media is hashed in threads here; test_hashing.py covers the worker processes.
    return Settings(database_url=database_url, verdict_log="all", log_json=False, hash_processes=0)


@pytest.fixture
def engine(settings: Settings) -> Iterator[Engine]:
    engine = make_engine(settings.database_url)
    upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    with make_session_factory(engine)() as session:
        yield session


@pytest.fixture
def keys(engine: Engine) -> dict[str, str]:
    """A key per scope (named after it), plus 'all' with every scope."""
    created = {}
    with make_session_factory(engine)() as session, session.begin():
        for scope in sorted(SCOPES):
            created[scope] = create_key(session, f"key-{scope}", [scope])
        created["all"] = create_key(session, "key-all", sorted(SCOPES))
    return created


@pytest.fixture
def client(settings: Settings, engine: Engine, keys: dict[str, str]) -> Iterator[TestClient]:
    with TestClient(create_app(settings), raise_server_exceptions=False) as test_client:
        yield test_client


def bearer(key: str) -> dict[str, str]:
    """The Authorization header for a key."""
    return {"Authorization": f"Bearer {key}"}
