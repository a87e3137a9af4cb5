"""What an upload leaves in the ledger: its content id with every hash matching used."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from app.errors import InvalidInput
from matcher.signals import Signal

#: The longest content id, as `MatchItem.content_id` allows.
CONTENT_ID_MAX = 200


def valid_content_id(value: str) -> bool:
    """Whether a content id is 1 to CONTENT_ID_MAX printable characters."""
    return 0 < len(value) <= CONTENT_ID_MAX and value.isprintable()


def checked_content_id(content_id: str) -> str:
    """A content id naming a ledger entry (a route's path, a command's argument), or
    raise `InvalidInput`."""
    if not valid_content_id(content_id):
        raise InvalidInput(
            f"content id must be 1 to {CONTENT_ID_MAX} printable characters",
            [{"pointer": "/path/content_id", "detail": "invalid content id"}],
        )
    return content_id


def ledger_rows(
    content_id: str,
    signals: Sequence[Signal],
    seen_seq: int,
    matched: Sequence[int],
    at: datetime,
) -> list[dict[str, Any]]:
    """Ledger rows for one upload's hashes: its own and the candidates computed for it
    (each once), whose verdict was given at change-log sequence `seen_seq` and matched
    the hashes `matched`."""
    seen: set[tuple[str, str, str | None]] = set()
    rows = []
    for signal in signals:
        key = (signal.signal_type, signal.value, signal.variant)
        if key in seen:
            continue
        seen.add(key)
        rows.append(
            {
                "content_id": content_id,
                "recorded_at": at,
                "signal_type": signal.signal_type,
                "value": signal.value,
                "quality": signal.quality,
                "candidate": signal.variant,
                "detailed": signal.detailed,
                "seen_seq": seen_seq,
                "matched": list(matched) or None,
            }
        )
    return rows
