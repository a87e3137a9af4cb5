"""Queries per aggregate. Functions take a `Session`; the caller owns the transaction."""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import Table
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session


def on_postgresql(session: Session) -> bool:
    """Whether the session talks to PostgreSQL (else SQLite)."""
    return session.get_bind().dialect.name == "postgresql"


def table_of(model: Any) -> Table:
    """A mapped class's table. Rows written in bulk go to the table, not the class: a
    Core executemany, without the ORM's bookkeeping per row (most of the time of a batch
    of hashes added, or of verdicts logged)."""
    return cast(Table, model.__table__)


def insert_for(session: Session, model: Any) -> Any:
    """An INSERT into a mapped class's table in the session's dialect, which can take
    `ON CONFLICT` clauses."""
    insert_ = postgresql_insert if on_postgresql(session) else sqlite_insert
    return insert_(table_of(model))


def insert_ignoring(session: Session, model: Any, unique: list[str]) -> Any:
    """`INSERT ... ON CONFLICT (unique) DO NOTHING` into a mapped class's table, in the
    session's dialect."""
    return insert_for(session, model).on_conflict_do_nothing(index_elements=unique)
