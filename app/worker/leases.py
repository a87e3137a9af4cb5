"""Leases on duties, so that several workers share the work without doing any twice.

A lease is a row (`worker_leases`) naming a duty, its owner and until when. Taking one
is a single statement: insert it, or take it over where it has run out. Of several
workers trying at once exactly one gets it: on PostgreSQL the others wait for the row
and then no longer match the `WHERE`; SQLite runs writers one at a time.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import update
from sqlalchemy.orm import Session

from app.models import WorkerLease
from app.store import insert_for


def take(session: Session, name: str, owner: str, now: datetime, hold: timedelta) -> bool:
    """Hold the duty `name` until `now + hold`, if nobody (this owner included) holds
    it now: a feed's lease kept until its next poll keeps its own worker off it too."""
    return _claim(session, name, owner, now, hold, renew=False)


def keep(session: Session, name: str, owner: str, now: datetime, hold: timedelta) -> bool:
    """Hold the duty `name` until `now + hold` if nobody else holds it: taken where it
    ran out, renewed where this owner holds it (a duty one worker keeps doing)."""
    return _claim(session, name, owner, now, hold, renew=True)


def _claim(
    session: Session, name: str, owner: str, now: datetime, hold: timedelta, *, renew: bool
) -> bool:
    """Insert the lease, or take it over where it ran out (or, `renew`, is this owner's)."""
    table = WorkerLease.__table__
    free = table.c.lease_until <= now  # type: ignore[attr-defined]
    statement = insert_for(session, WorkerLease).values(
        name=name, owner=owner, lease_until=now + hold
    )
    statement = statement.on_conflict_do_update(
        index_elements=["name"],
        set_={"owner": owner, "lease_until": now + hold},
        where=(free | (table.c.owner == owner)) if renew else free,
    )
    # RETURNING, not the row count: psycopg counts a conflict whose update was skipped.
    return session.execute(statement.returning(table.c.name)).first() is not None  # type: ignore[attr-defined]


def hold_until(session: Session, name: str, owner: str, until: datetime) -> None:
    """Keep (or shorten) a lease this owner holds: after a feed's sync, until its next."""
    session.execute(
        update(WorkerLease)
        .where(WorkerLease.name == name, WorkerLease.owner == owner)
        .values(lease_until=until)
    )
