"""Hash files, as a feed and for `hashwall hashes import`: CSV, JSONL and pdq text.

- CSV: `signal_type,value[,external_id]`, or any columns named by a header row
  (`signal_type`, `value`, `quality`, `external_id`, `case_ref`, `status`).
- JSONL: one object per line with the same names.
- pdq text, as the reference pdq hasher prints it: `hash[,quality[,name]]` per line.
- vpdq text, as Meta's vpdq writes a video's hash: `frame,quality,pdq_hex,timestamp` per
  line, the whole file one video (its external id: the file's name without suffix).

Files are read line by line in constant memory, from a local path or an http(s) URL.
The checkpoint remembers the file's identity (size and modification time, or the
server's ETag) and the last line applied, so an interrupted sync resumes where it
stopped, an unchanged file is not read again, and a changed one is read from the top
(upserts make re-reading harmless).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import urlparse

import httpx

from app.feeds.base import (
    Checkpoint,
    Feedback,
    FeedRecord,
    FeedRefused,
    Page,
    Reject,
    checked,
    make_record,
)
from matcher.errors import MatcherError
from matcher.signals import Registry
from matcher.vpdq import MAX_FRAMES

FORMATS = ("csv", "jsonl", "pdq", "vpdq")
COLUMNS = ("signal_type", "value", "quality", "external_id", "case_ref", "status")
#: Lines per page: one transaction each.
PAGE_LINES = 5000

LineReader = Callable[[int, int], Iterator[tuple[int, str, int]]]


def detect_format(name: str, first_line: str) -> str:
    """'jsonl', 'csv', 'pdq' or 'vpdq', from the file name or, failing that, the first
    line."""
    suffix = Path(urlparse(name).path).suffix.lower()
    if suffix in (".jsonl", ".ndjson", ".json"):
        return "jsonl"
    if suffix in (".csv", ".pdq", ".vpdq"):
        return suffix[1:]
    first = first_line.strip()
    if first.startswith("{"):
        return "jsonl"
    cells = first.split(",")
    if len(cells[0]) == 64 and _is_hex(cells[0]):
        return "pdq"
    if len(cells) == 4 and cells[0].isdigit() and len(cells[2]) == 64 and _is_hex(cells[2]):
        return "vpdq"
    return "csv"


def _is_hex(text: str) -> bool:
    return all(c in "0123456789abcdefABCDEF" for c in text)


class LineParser:
    """Turns one line of a file into fields, an error message, or nothing (blank or
    header). Holds the CSV header, so a resumed read must hand it back."""

    def __init__(self, fmt: str, header: Sequence[str] | None = None) -> None:
        if fmt not in FORMATS:
            raise ValueError(f"unknown format {fmt!r}")
        self.fmt = fmt
        self.header = list(header) if header else None

    def parse(self, line: str) -> dict[str, Any] | str | None:
        """Fields of one line, a message saying why it cannot be read, or None."""
        if not line.strip():
            return None
        if self.fmt == "jsonl":
            try:
                record = json.loads(line)
            except json.JSONDecodeError as error:
                return f"invalid JSON: {error.msg}"
            if not isinstance(record, dict):
                return "a JSON object is expected"
            return {k: v for k, v in record.items() if v is not None}
        row = next(csv.reader([line]))
        if self.fmt == "pdq":
            fields = dict(zip(("value", "quality"), (cell.strip() for cell in row), strict=False))
            return {"signal_type": "pdq", **{k: v for k, v in fields.items() if v}}
        if self.header is None and row[0].strip().lower() == "signal_type":
            self.header = [cell.strip().lower() for cell in row]
            unknown = set(self.header) - set(COLUMNS)
            if unknown:
                return f"unknown columns: {', '.join(sorted(unknown))}"
            return None
        names = self.header or ["signal_type", "value", "external_id"]
        if len(row) > len(names):
            return f"expected at most {len(names)} columns, got {len(row)}"
        return {n: c.strip() for n, c in zip(names, row, strict=False) if c.strip()}


def to_record(registry: Registry, fields: Mapping[str, Any]) -> FeedRecord:
    """A validated record from a line's fields; `MatcherError` says what is wrong."""
    name, value = fields.get("signal_type"), fields.get("value")
    if not name or value is None:
        raise MatcherError("signal_type and value are required")
    quality = fields.get("quality")
    try:
        quality_value = int(quality) if quality not in (None, "") else None
    except (TypeError, ValueError):
        raise MatcherError(f"quality must be an integer, not {quality!r}") from None
    external_id, case_ref = fields.get("external_id"), fields.get("case_ref")
    return make_record(
        registry,
        str(name),
        str(value),
        str(fields.get("status") or "active"),
        quality=quality_value,
        external_id=str(external_id)[:200] if external_id is not None else None,
        case_ref=str(case_ref)[:200] if case_ref is not None else None,
    )


def parse_line(
    parser: LineParser, registry: Registry, number: int, line: str
) -> FeedRecord | Reject | None:
    """A validated record, a reject naming the line, or None for a blank or header line."""
    fields = parser.parse(line)
    if fields is None:
        return None
    if isinstance(fields, str):
        return Reject(f"line {number}", fields, number)
    try:
        return to_record(registry, fields)
    except MatcherError as error:
        return Reject(f"line {number}", str(error), number)


def _decode(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        # A broken byte spoils its line only: the parser rejects what it cannot read.
        return raw.decode("utf-8", errors="replace")


class FileFeed:
    """A hash file at a path or URL, read a page of lines at a time."""

    kind: ClassVar[str] = "file"
    takes_feedback: ClassVar[bool] = False

    def __init__(
        self,
        location: str,
        registry: Registry,
        http: httpx.Client | None = None,
        fmt: str = "auto",
        page_lines: int = PAGE_LINES,
    ) -> None:
        self.location = location
        self.registry = registry
        self.http = http
        self.fmt = fmt
        self.page_lines = page_lines

    @property
    def remote(self) -> bool:
        """Whether the file is fetched over HTTP."""
        return urlparse(self.location).scheme in ("http", "https")

    def _path(self) -> Path:
        parsed = urlparse(self.location)
        return Path(parsed.path) if parsed.scheme == "file" else Path(self.location)

    @contextmanager
    def _open(self) -> Iterator[tuple[str | None, LineReader]]:
        """The file's identity (None when unknown), and a function reading its lines from
        line `skip` (at byte `offset`, for a local file) as (number, text, byte offset)."""
        if self.remote:
            if self.http is None:
                raise FeedRefused("a file feed at a URL needs an HTTP client")
            http = self.http
            with http.stream("GET", self.location) as response:
                checked(lambda: response, f"file {self.location}")

                def remote_lines(skip: int, offset: int) -> Iterator[tuple[int, str, int]]:
                    for number, line in enumerate(response.iter_lines(), start=1):
                        if number > skip:
                            yield number, line, 0

                yield (
                    response.headers.get("ETag") or response.headers.get("Last-Modified"),
                    remote_lines,
                )
            return
        path = self._path()
        try:
            stat = path.stat()
            stream = path.open("rb")
        except OSError as error:
            raise FeedRefused(f"file {path} cannot be read: {error.strerror}") from None
        with stream:

            def local_lines(skip: int, offset: int) -> Iterator[tuple[int, str, int]]:
                number = skip
                stream.seek(offset)
                for raw in stream:
                    number += 1
                    yield number, _decode(raw), stream.tell()

            yield f"{stat.st_size}:{stat.st_mtime_ns}", local_lines

    def fetch(self, checkpoint: Checkpoint | None) -> Page:
        """The next `page_lines` lines; an unchanged, fully read file gives nothing."""
        state = dict(checkpoint or {})
        with self._open() as (identity, read_lines):
            if identity is None or state.get("identity") != identity:
                state = {}
            elif state.get("complete"):
                return Page([], [], state, True)
            skip, offset = int(state.get("line", 0)), int(state.get("offset", 0))
            lines = read_lines(skip, offset)
            fmt = state.get("format") or self.fmt
            if fmt == "auto":
                first = next(lines, None)
                fmt = detect_format(self.location, first[1] if first else "")
                lines = _chain(first, lines)
            parser = LineParser(fmt, state.get("header"))
            records: list[FeedRecord] = []
            rejects: list[Reject] = []
            last, end, complete = skip, offset, True
            if fmt == "vpdq":
                video, last, end = self._video(lines)
                if isinstance(video, Reject):
                    rejects.append(video)
                else:
                    records.append(video)
                lines = iter(())
            for number, text, after in lines:
                item = parse_line(parser, self.registry, number, text)
                if isinstance(item, Reject):
                    rejects.append(item)
                elif item is not None:
                    records.append(item)
                last, end = number, after
                if number - skip >= self.page_lines:
                    complete = False
                    break
        next_state = {
            "identity": identity,
            "format": fmt,
            "header": parser.header,
            "line": last,
            "offset": end,
            "complete": complete,
        }
        return Page(records, rejects, next_state, complete)

    def _video(self, lines: Iterator[tuple[int, str, int]]) -> tuple[FeedRecord | Reject, int, int]:
        """The whole of a vpdq file as one record (at most MAX_FRAMES lines are read),
        with the last line and byte offset read."""
        text: list[str] = []
        last, end = 0, 0
        for number, line, after in lines:
            text.append(line if line.endswith("\n") else line + "\n")
            last, end = number, after
            if number > MAX_FRAMES:
                return Reject("file", f"over {MAX_FRAMES} frames", None), last, end
        name = Path(urlparse(self.location).path).stem
        try:
            return make_record(self.registry, "vpdq", "".join(text), external_id=name), last, end
        except MatcherError as error:
            return Reject("file", str(error), None), last, end

    def submit_feedback(self, items: Sequence[Feedback]) -> None:
        """Files take no feedback."""
        raise NotImplementedError("file feeds take no feedback")


def _chain(
    first: tuple[int, str, int] | None, rest: Iterator[tuple[int, str, int]]
) -> Iterator[tuple[int, str, int]]:
    if first is not None:
        yield first
    yield from rest
