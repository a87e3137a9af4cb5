"""Hashes in banks: idempotent batch upserts, removal, and details for matches."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.errors import NotFound
from app.live_index import StoredHash
from app.models import Bank, HashRecord, utcnow
from app.store import changes, insert_ignoring, on_postgresql, table_of
from app.store.frames import attach_stored, insert_frames, insert_parts, parts_of
from matcher.candidates import Variant
from matcher.video_hash import VideoHash

#: Rows per IN (...) lookup: well under SQLite's and PostgreSQL's parameter limits.
LOOKUP_CHUNK = 500
#: Signal types whose hashes are sequences banked with their frames.
SEQUENCES = ("vpdq",)
#: From this many new rows on, PostgreSQL loads them with COPY.
COPY_ROWS = 1000


@dataclass(frozen=True, slots=True)
class NewHash:
    """A validated hash to put in a bank (value already in canonical form)."""

    signal_type: str
    value: str
    quality: int | None = None
    external_id: str | None = None
    case_ref: str | None = None
    #: A video's frames (vpdq); its `value` is their identity.
    frames: VideoHash | None = None
    #: An image's parts, when it is banked from media (pdq).
    parts: tuple[Variant, ...] = ()


@dataclass(slots=True)
class AddResult:
    """What a batch add did, and which hashes the live index must now hold."""

    added: int = 0
    reactivated: int = 0
    updated: int = 0  # active hashes whose quality or provenance changed
    unchanged: int = 0
    to_index: list[StoredHash] = field(default_factory=list)
    #: The change log rows that record it.
    changes: list[int] = field(default_factory=list)


def _existing(
    session: Session, bank_id: int, keys: Sequence[tuple[str, str]]
) -> dict[tuple[str, str], HashRecord]:
    # One query per signal type, so each is an equality on (bank, signal type) and an IN on
    # value: a range of the unique index, not a scan of the bank.
    by_type: dict[str, list[str]] = defaultdict(list)
    for signal_type, value in keys:
        by_type[signal_type].append(value)
    found: dict[tuple[str, str], HashRecord] = {}
    for signal_type, values in by_type.items():
        for start in range(0, len(values), LOOKUP_CHUNK):
            rows = session.scalars(
                select(HashRecord).where(
                    HashRecord.bank_id == bank_id,
                    HashRecord.signal_type == signal_type,
                    HashRecord.value.in_(values[start : start + LOOKUP_CHUNK]),
                )
            )
            found.update({(r.signal_type, r.value): r for r in rows})
    return found


def _insert_new(session: Session, rows: list[dict[str, Any]]) -> dict[tuple[str, str], int]:
    """Insert the rows that are not in the bank yet; return the new ids by key.

    `ON CONFLICT DO NOTHING` lets the unique index decide what is new, so a bulk load of
    new hashes never reads the table first.
    """
    if on_postgresql(session) and len(rows) >= COPY_ROWS:
        return _copy_new(session, rows)
    columns = table_of(HashRecord).c
    statement = insert_ignoring(session, HashRecord, ["value", "signal_type", "bank_id"]).returning(
        columns.id, columns.signal_type, columns.value
    )
    inserted: dict[tuple[str, str], int] = {}
    for start in range(0, len(rows), LOOKUP_CHUNK):
        result = session.execute(statement, rows[start : start + LOOKUP_CHUNK])
        inserted.update({(st, value): hash_id for hash_id, st, value in result})
    return inserted


def _copy_new(session: Session, rows: list[dict[str, Any]]) -> dict[tuple[str, str], int]:
    """`_insert_new` for bulk loads on PostgreSQL: COPY into a temporary table, then one
    INSERT ... SELECT ... ON CONFLICT DO NOTHING. A multi-row INSERT costs the driver more
    to build than the server to run (3x slower at 5,000 rows a batch)."""
    columns = list(rows[0])
    names = ", ".join(columns)
    connection = session.connection()
    # The columns' types without their defaults (an id default would draw from the
    # sequence for every staged row); the table lives as long as the pooled connection.
    connection.exec_driver_sql(
        f"CREATE TEMPORARY TABLE IF NOT EXISTS hashes_incoming AS "
        f"SELECT {names} FROM hashes WITH NO DATA"
    )
    driver = connection.connection.driver_connection
    with (
        driver.cursor() as cursor,  # type: ignore[union-attr]
        cursor.copy(f"COPY hashes_incoming ({names}) FROM STDIN") as copy,
    ):
        for row in rows:
            copy.write_row([row[column] for column in columns])
    result = connection.exec_driver_sql(
        f"INSERT INTO hashes ({names}) SELECT {names} FROM hashes_incoming "
        "ON CONFLICT (value, signal_type, bank_id) DO NOTHING "
        "RETURNING id, signal_type, value"
    )
    inserted = {(signal_type, value): hash_id for hash_id, signal_type, value in result}
    connection.exec_driver_sql("TRUNCATE hashes_incoming")
    return inserted


def add_hashes(
    session: Session,
    bank: Bank,
    items: Iterable[NewHash],
    source: str,
    *,
    confirmed: bool = True,
) -> AddResult:
    """Upsert hashes into a bank: adding the same batch twice changes nothing.

    A hash that was withdrawn or deleted and is added again becomes active again; the
    provenance fields of an existing hash are updated when the new batch gives them.
    `confirmed=False` (an unconfirmed feed) marks new hashes unconfirmed; a hash already
    confirmed stays so, and a confirmed source confirms an unconfirmed one.
    """
    changes.begin_changes(session)
    latest = {(item.signal_type, item.value): item for item in items}
    result = AddResult()
    now = utcnow()
    rows = [
        {
            "bank_id": bank.id,
            "signal_type": item.signal_type,
            "value": item.value,
            "quality": item.quality,
            "status": "active",
            "source": source,
            "external_id": item.external_id,
            "case_ref": item.case_ref,
            "confirmed": confirmed,
            "first_seen": now,
            "updated_at": now,
        }
        for item in latest.values()
    ]
    inserted = _insert_new(session, rows) if rows else {}
    result.added = len(inserted)
    insert_frames(
        session,
        {hash_id: frames for key, hash_id in inserted.items() if (frames := latest[key].frames)},
    )
    insert_parts(
        session,
        {hash_id: parts for key, hash_id in inserted.items() if (parts := latest[key].parts)},
    )
    result.to_index.extend(
        StoredHash(
            inserted[key],
            bank.id,
            key[0],
            key[1],
            latest[key].quality,
            confirmed,
            latest[key].frames,
            latest[key].parts,
        )
        for key in inserted
    )
    existing = _existing(session, bank.id, [key for key in latest if key not in inserted])
    # A picture banked again from media, once a feed's hash alone, gains its parts.
    offered = {r.id: parts for key, r in existing.items() if (parts := latest[key].parts)}
    gained = set(offered) - set(parts_of(session, offered))
    insert_parts(session, {hash_id: offered[hash_id] for hash_id in gained})
    for key, record in existing.items():
        item = latest[key]
        changed = record.status != "active" or record.id in gained
        if confirmed and not record.confirmed:
            record.confirmed = changed = True
        for attr in ("quality", "external_id", "case_ref"):
            value = getattr(item, attr)
            if value is not None and value != getattr(record, attr):
                setattr(record, attr, value)
                changed = True
        if not changed:
            result.unchanged += 1
            continue
        if record.status != "active":
            result.reactivated += 1
        else:
            result.updated += 1
        record.status = "active"
        record.updated_at = now
        result.to_index.append(_stored(record, item.frames, item.parts))
    session.flush()
    # A video named by its identity alone is indexed with the frames banked with it, and
    # a picture brought back by its hash alone with its parts (new rows came with theirs).
    revived = result.to_index[result.added :]
    result.to_index[result.added :] = attach_stored(session, revived, SEQUENCES)
    result.changes = changes.record_hashes(session, [stored.id for stored in result.to_index])
    return result


def _stored(record: HashRecord, frames: VideoHash | None, parts: tuple[Variant, ...]) -> StoredHash:
    return StoredHash(
        record.id,
        record.bank_id,
        record.signal_type,
        record.value,
        record.quality,
        record.confirmed,
        frames,
        parts,
    )


def retire_hashes(
    session: Session,
    bank: Bank,
    keys: Iterable[tuple[str, str]],
    status: str,
    source: str | None = None,
) -> list[int]:
    """Mark active hashes `status` ("withdrawn" or "deleted"), kept as tombstones for
    provenance; return their ids. With a `source`, a hash another source put in the bank
    is left alone: one feed withdrawing a case does not undo another's report."""
    changes.begin_changes(session)
    now = utcnow()
    retired = []
    for record in _existing(session, bank.id, list(dict.fromkeys(keys))).values():
        if record.status == "active" and source in (None, record.source):
            record.status = status
            record.updated_at = now
            retired.append(record.id)
    session.flush()
    changes.record_hashes(session, retired)
    return retired


def find_hashes(session: Session, bank: Bank, keys: Iterable[tuple[str, str]]) -> list[HashRecord]:
    """The hashes of a bank with these (signal type, value) keys, whatever their status."""
    return list(_existing(session, bank.id, list(dict.fromkeys(keys))).values())


def confirm_hashes(session: Session, records: Iterable[HashRecord]) -> list[int]:
    """A moderator confirms hashes (from an unconfirmed feed): they may now block.
    Returns the ids of those that were unconfirmed."""
    changes.begin_changes(session)
    newly = [record for record in records if not record.confirmed]
    now = utcnow()
    for record in newly:
        record.confirmed = True
        record.updated_at = now
    session.flush()
    changes.record_hashes(session, [record.id for record in newly])
    return [record.id for record in newly]


def remove_hash(session: Session, bank: Bank, signal_type: str, value: str) -> HashRecord:
    """Mark a hash deleted (kept as a tombstone for provenance); it stops matching."""
    changes.begin_changes(session)
    record = session.scalar(
        select(HashRecord).where(
            HashRecord.bank_id == bank.id,
            HashRecord.signal_type == signal_type,
            HashRecord.value == value,
        )
    )
    if record is None or record.status != "active":
        raise NotFound(f"no active {signal_type} hash {value} in bank {bank.name!r}")
    record.status = "deleted"
    record.updated_at = utcnow()
    session.flush()
    changes.record_hashes(session, [record.id])
    return record


def bank_hashes(
    session: Session,
    bank: Bank,
    signal_type: str | None = None,
    active_only: bool = True,
    limit: int | None = None,
) -> Iterator[HashRecord]:
    """A bank's hashes, oldest first, read a chunk at a time (a bank may hold millions)."""
    query = select(HashRecord).where(HashRecord.bank_id == bank.id).order_by(HashRecord.id)
    if signal_type is not None:
        query = query.where(HashRecord.signal_type == signal_type)
    if active_only:
        query = query.where(HashRecord.status == "active")
    if limit is not None:
        query = query.limit(limit)
    yield from session.scalars(query.execution_options(yield_per=LOOKUP_CHUNK))


def external_ids(session: Session, hash_ids: Iterable[int]) -> dict[int, str | None]:
    """External ids of matched hashes, for callers allowed to see match details."""
    ids = sorted(set(hash_ids))
    found: dict[int, str | None] = {}
    for start in range(0, len(ids), LOOKUP_CHUNK):
        rows = session.execute(
            select(HashRecord.id, HashRecord.external_id).where(
                HashRecord.id.in_(ids[start : start + LOOKUP_CHUNK])
            )
        )
        found.update({hash_id: external_id for hash_id, external_id in rows})
    return found
