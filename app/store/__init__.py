"""Queries per aggregate. Functions take a `Session`; the caller owns the transaction."""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session


def on_postgresql(session: Session) -> bool:
    """Whether the session talks to PostgreSQL (else SQLite)."""
    return session.get_bind().dialect.name == "postgresql"


def insert_ignoring(session: Session, table: Any, unique: list[str]) -> Any:
    """`INSERT ... ON CONFLICT (unique) DO NOTHING` in the session's dialect."""
    insert_ = postgresql_insert if on_postgresql(session) else sqlite_insert
    return insert_(table).on_conflict_do_nothing(index_elements=unique)
