"""Audit rows: appended in the transaction of the change they record; read with filters.

Appending is serialised with every other change writer (`changes.begin_changes`: on
PostgreSQL the same advisory lock, which one transaction may take again; SQLite
serialises writers by itself), so rows link in the order they commit. The row is
written before the previous one is read: on SQLite that takes the write lock first, so
no other writer can slip a row in between the read and the write.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, select, update
from sqlalchemy.orm import Session

from app.audit.chain import GENESIS, Entry, canonical, link
from app.models import AuditRow, utcnow
from app.store import changes

#: Rows read at a time by `verify` and exports.
CHUNK = 1000


def append(
    session: Session, actor: str, action: str, target: str, details: dict[str, Any] | None = None
) -> AuditRow:
    """Record one change; the caller's transaction commits it with the change."""
    changes.begin_changes(session)
    row = AuditRow(
        created_at=utcnow(),
        actor=actor,
        action=action,
        target=target,
        details=details or {},
        prev_hash="",
        row_hash="",
    )
    session.add(row)
    session.flush()
    previous = session.scalar(
        select(AuditRow.row_hash).where(AuditRow.id < row.id).order_by(AuditRow.id.desc()).limit(1)
    )
    row.prev_hash = previous or GENESIS
    row.row_hash = link(
        row.prev_hash,
        canonical(row.id, row.created_at, actor, action, target, row.details),
    )
    session.execute(
        update(AuditRow)
        .where(AuditRow.id == row.id)
        .values(prev_hash=row.prev_hash, row_hash=row.row_hash)
    )
    return row


def key_actor(name: str) -> str:
    """How the audit trail names an API key (the CLI is `cli`, the service `system`)."""
    return f"key:{name}"


def digest(values: Iterable[str]) -> str:
    """A SHA-256 over sorted values: what a bulk change's one audit row says it touched."""
    h = hashlib.sha256()
    for value in sorted(values):
        h.update(value.encode())
        h.update(b"\n")
    return h.hexdigest()


@dataclass(frozen=True, slots=True)
class Filters:
    """What `GET /v1/audit` and `hashwall audit export` select by (all optional)."""

    actor: str | None = None
    action: str | None = None
    target: str | None = None
    since: datetime | None = None
    until: datetime | None = None


def _filtered(filters: Filters) -> Select[Any]:
    query = select(AuditRow)
    if filters.actor:
        query = query.where(AuditRow.actor == filters.actor)
    if filters.action:
        query = query.where(AuditRow.action == filters.action)
    if filters.target:
        query = query.where(AuditRow.target == filters.target)
    if filters.since:
        query = query.where(AuditRow.created_at >= filters.since)
    if filters.until:
        query = query.where(AuditRow.created_at < filters.until)
    return query


def page(
    session: Session, filters: Filters, before: int | None, limit: int
) -> tuple[Sequence[AuditRow], int | None]:
    """Newest first, rows older than the id `before`; and the cursor of the next page."""
    query = _filtered(filters)
    if before is not None:
        query = query.where(AuditRow.id < before)
    rows = list(session.scalars(query.order_by(AuditRow.id.desc()).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (rows[-1].id if more and rows else None)


def rows_in_order(session: Session, filters: Filters | None = None) -> Iterator[AuditRow]:
    """Every (selected) row, oldest first, read a chunk at a time."""
    query = _filtered(filters or Filters())
    after = 0
    while True:
        chunk = list(
            session.scalars(query.where(AuditRow.id > after).order_by(AuditRow.id).limit(CHUNK))
        )
        if not chunk:
            return
        yield from chunk
        after = chunk[-1].id


def entries(session: Session) -> Iterator[Entry]:
    """Every row as the chain sees it, oldest first."""
    for row in rows_in_order(session):
        yield Entry(
            row.id,
            row.created_at,
            row.actor,
            row.action,
            row.target,
            row.details,
            row.prev_hash,
            row.row_hash,
        )


def public(row: AuditRow) -> dict[str, Any]:
    """A row as the API and exports show it."""
    return {
        "id": row.id,
        "created_at": row.created_at.isoformat(),
        "actor": row.actor,
        "action": row.action,
        "target": row.target,
        "details": row.details,
        "row_hash": row.row_hash,
    }
