"""The hash chain, as pure functions over rows.

Each row stores `prev_hash`, the previous row's `row_hash` (64 zeros for the first), and
`row_hash`, the SHA-256 of `prev_hash` and the row's canonical content: its id, time,
actor, action, target and details as sorted, compact JSON. Changing any field of a row
breaks its own hash; deleting or reordering rows breaks the next row's link. (Deleting
the newest rows leaves a shorter chain that is still whole: an operator who needs that
too keeps the newest `row_hash` somewhere else, as `hashwall audit verify` prints it.)
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

GENESIS = "0" * 64


@dataclass(frozen=True, slots=True)
class Entry:
    """One audit row as the chain sees it."""

    id: int
    created_at: datetime
    actor: str
    action: str
    target: str
    details: dict[str, Any]
    prev_hash: str
    row_hash: str


def canonical(
    row_id: int, created_at: datetime, actor: str, action: str, target: str, details: Any
) -> bytes:
    """The bytes a row's hash covers."""
    content = {
        "id": row_id,
        "created_at": created_at.astimezone(UTC).isoformat(),
        "actor": actor,
        "action": action,
        "target": target,
        "details": details,
    }
    return json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def link(prev_hash: str, content: bytes) -> str:
    """A row's hash from the previous row's and its own content."""
    return hashlib.sha256(prev_hash.encode() + content).hexdigest()


@dataclass(frozen=True, slots=True)
class Broken:
    """The first row where the chain does not hold, and why."""

    row_id: int
    why: str


def verify(entries: Iterable[Entry]) -> tuple[int, str, Broken | None]:
    """Check rows in id order: (rows checked, the last row's hash, the first break)."""
    previous = GENESIS
    checked = 0
    for entry in entries:
        if entry.prev_hash != previous:
            why = "its link to the row before does not match: a row was deleted or reordered"
            return checked, previous, Broken(entry.id, why)
        content = canonical(
            entry.id, entry.created_at, entry.actor, entry.action, entry.target, entry.details
        )
        if link(previous, content) != entry.row_hash:
            return checked, previous, Broken(entry.id, "its content was changed")
        previous = entry.row_hash
        checked += 1
    return checked, previous, None
