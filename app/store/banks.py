"""Banks: create, read, update, delete, with their active hash counts."""

from __future__ import annotations

import re
from collections import defaultdict
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from app.errors import Conflict, InvalidInput, NotFound
from app.models import Bank, HashRecord
from app.policy import DEFAULT_THRESHOLDS, Action
from app.store import changes as change_log
from matcher.errors import UnknownSignalTypeError
from matcher.signals import Registry

#: What a bank name may be, in the API and the CLI alike: it appears in URLs.
BANK_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$"

#: The video share thresholds (percent) a sequence type's limits hold.
SHARES = ("query_share", "target_share")


def validate_thresholds(registry: Registry, thresholds: dict[str, Any]) -> dict[str, Any]:
    """Check per-signal thresholds: known types, 0 <= match <= review <= the code's bits
    (a frame's, for videos), and shares (percent, videos only) from 0 to 100."""
    checked: dict[str, dict[str, float]] = {}
    for name, limits in thresholds.items():
        pointer = [{"pointer": f"/thresholds/{name}"}]
        try:
            signal_type = registry.get(name)
        except UnknownSignalTypeError as error:
            raise InvalidInput(str(error), pointer) from None
        match, review = int(limits["match"]), int(limits["review"])
        near = signal_type.perceptual or signal_type.sequence
        ceiling = signal_type.code_bytes * 8 // 2 if near else 0
        if not 0 <= match <= review <= ceiling:
            raise InvalidInput(
                f"thresholds for {name} must satisfy 0 <= match <= review <= {ceiling}", pointer
            )
        checked[name] = {"match": match, "review": review}
        shares = {k: limits[k] for k in SHARES if limits.get(k) is not None}
        if shares and not signal_type.sequence:
            raise InvalidInput(f"{name} thresholds take no query_share or target_share", pointer)
        if signal_type.sequence:
            defaults = DEFAULT_THRESHOLDS[name]
            checked[name].update({k: float(getattr(defaults, k)) for k in SHARES})
            checked[name].update({k: float(v) for k, v in shares.items()})
    return checked


def effective_thresholds(bank: Bank) -> dict[str, dict[str, Any]]:
    """The bank's thresholds with the defaults filled in for every signal type."""
    merged: dict[str, dict[str, Any]] = {
        name: {"match": t.match, "review": t.review}
        | {k: getattr(t, k) for k in SHARES if getattr(t, k) is not None}
        for name, t in DEFAULT_THRESHOLDS.items()
    }
    merged.update(bank.thresholds or {})
    return merged


def get_bank(session: Session, name: str) -> Bank:
    """The bank called `name`, or raise `NotFound`."""
    bank = session.scalar(select(Bank).where(Bank.name == name))
    if bank is None:
        raise NotFound(f"no bank named {name!r}")
    return bank


def create_bank(
    session: Session,
    registry: Registry,
    name: str,
    action: Action,
    enabled: bool = True,
    thresholds: dict[str, Any] | None = None,
    description: str = "",
    *,
    queue_blocks: bool = False,
) -> Bank:
    """Create a bank; its name must be new and match BANK_NAME."""
    if not re.fullmatch(BANK_NAME, name):
        raise InvalidInput(
            f"bank name {name!r} must be 1 to 100 letters, digits, '_', '.' or '-', "
            "starting with a letter or digit",
            [{"pointer": "/name", "detail": "invalid bank name"}],
        )
    change_log.begin_changes(session)
    if session.scalar(select(Bank.id).where(Bank.name == name)) is not None:
        raise Conflict(f"a bank named {name!r} already exists")
    bank = Bank(
        name=name,
        action=Action(action).value,
        enabled=enabled,
        thresholds=validate_thresholds(registry, thresholds or {}),
        description=description,
        queue_blocks=queue_blocks,
    )
    session.add(bank)
    session.flush()
    change_log.record_banks(session)
    return bank


def update_bank(session: Session, registry: Registry, bank: Bank, changes: dict[str, Any]) -> Bank:
    """Apply the given fields (action, enabled, thresholds, description, queue_blocks) to
    a bank."""
    change_log.begin_changes(session)
    if "action" in changes:
        bank.action = Action(changes["action"]).value
    if "enabled" in changes:
        bank.enabled = bool(changes["enabled"])
    if "description" in changes:
        bank.description = changes["description"]
    if "queue_blocks" in changes:
        bank.queue_blocks = bool(changes["queue_blocks"])
    if "thresholds" in changes:
        merged = dict(bank.thresholds or {})
        merged.update(validate_thresholds(registry, changes["thresholds"]))
        bank.thresholds = merged
    session.flush()
    change_log.record_banks(session)
    return bank


def delete_bank(session: Session, bank: Bank) -> dict[str, list[int]]:
    """Delete a bank and its hashes; return the active hash ids by signal type."""
    change_log.begin_changes(session)
    removed: dict[str, list[int]] = defaultdict(list)
    rows = session.execute(
        select(HashRecord.signal_type, HashRecord.id).where(
            HashRecord.bank_id == bank.id, HashRecord.status == "active"
        )
    )
    for signal_type, hash_id in rows:
        removed[signal_type].append(hash_id)
    session.execute(delete(HashRecord).where(HashRecord.bank_id == bank.id))
    session.delete(bank)
    session.flush()
    change_log.record_hashes(session, [i for ids in removed.values() for i in ids])
    change_log.record_banks(session)
    return dict(removed)


def list_banks(session: Session) -> list[Bank]:
    """Every bank, by name."""
    return list(session.scalars(select(Bank).order_by(Bank.name)))


def active_counts(session: Session, bank_ids: list[int] | None = None) -> dict[int, int]:
    """Active hashes per bank id."""
    query = (
        select(HashRecord.bank_id, func.count())
        .where(HashRecord.status == "active")
        .group_by(HashRecord.bank_id)
    )
    if bank_ids is not None:
        query = query.where(HashRecord.bank_id.in_(bank_ids))
    return {bank_id: count for bank_id, count in session.execute(query)}


def active_counts_by_type(session: Session) -> dict[tuple[int, str], int]:
    """Active hashes per bank id and signal type."""
    rows = session.execute(
        select(HashRecord.bank_id, HashRecord.signal_type, func.count())
        .where(HashRecord.status == "active")
        .group_by(HashRecord.bank_id, HashRecord.signal_type)
    )
    return {(bank_id, signal_type): count for bank_id, signal_type, count in rows}
