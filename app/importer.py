"""Reading hash files (CSV or JSONL) for `hashwall hashes import`.

Each record is `signal_type, value[, external_id]`. Records are parsed and validated
one by one, in constant memory; bad ones are reported with their line numbers and the
good ones are upserted in batches, so importing the same file twice changes nothing.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from app.matching import DEGENERATE_DETAIL, parse_signal
from app.store.hashes import NewHash
from matcher.errors import MatcherError
from matcher.signals import Registry, Signal


@dataclass(frozen=True, slots=True)
class Reject:
    """A record that could not be imported."""

    line: int
    reason: str


def detect_format(path: Path, first_line: str) -> str:
    """'jsonl' or 'csv', from the extension or, failing that, the first line."""
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".ndjson", ".json"):
        return "jsonl"
    if suffix == ".csv":
        return "csv"
    return "jsonl" if first_line.lstrip().startswith("{") else "csv"


def _raw_records(stream: TextIO, fmt: str) -> Iterator[tuple[int, dict[str, str] | str]]:
    """(line number, fields or an error message) for each non-blank record."""
    if fmt == "jsonl":
        for number, line in enumerate(stream, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as error:
                yield number, f"invalid JSON: {error.msg}"
                continue
            if not isinstance(record, dict):
                yield number, "a JSON object is expected"
                continue
            yield number, {k: v for k, v in record.items() if v is not None}
        return
    reader = csv.reader(stream)
    header: list[str] | None = None
    for row in reader:
        number = reader.line_num
        if not row or not any(cell.strip() for cell in row):
            continue
        if header is None and row[0].strip().lower() == "signal_type":
            header = [cell.strip().lower() for cell in row]
            continue
        names = header or ["signal_type", "value", "external_id"]
        if len(row) > len(names):
            yield number, f"expected at most {len(names)} columns, got {len(row)}"
            continue
        yield number, {n: c.strip() for n, c in zip(names, row, strict=False) if c.strip()}


def read_records(
    stream: TextIO, fmt: str, registry: Registry
) -> Iterator[tuple[int, NewHash | Reject]]:
    """Validated hashes (canonical form) or rejects, with their line numbers."""
    for number, raw in _raw_records(stream, fmt):
        if isinstance(raw, str):
            yield number, Reject(number, raw)
            continue
        try:
            name = raw.get("signal_type")
            if not name or "value" not in raw:
                raise MatcherError("signal_type and value are required")
            quality = raw.get("quality")
            quality_value = int(quality) if quality not in (None, "") else None
            if quality_value is not None and not 0 <= quality_value <= 100:
                raise MatcherError("quality must be between 0 and 100")
            query = parse_signal(registry, Signal(str(name), str(raw["value"]), quality_value))
            if query.degenerate:
                raise MatcherError(DEGENERATE_DETAIL)
        except (MatcherError, ValueError) as error:
            yield number, Reject(number, str(error))
            continue
        external_id = raw.get("external_id")
        case_ref = raw.get("case_ref")
        yield (
            number,
            NewHash(
                query.signal_type,
                query.value,
                quality_value,
                str(external_id) if external_id is not None else None,
                str(case_ref) if case_ref is not None else None,
            ),
        )
