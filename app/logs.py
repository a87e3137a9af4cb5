"""Structured logs: one JSON object per line, with the fields passed in `extra`.

Log records never carry media, hash values of uploads, or secrets: callers pass counts,
names and ids only, and the Authorization header is never logged.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

_STANDARD = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime"}


def fields(record: logging.LogRecord) -> dict[str, Any]:
    """The structured fields a record was given in `extra`."""
    return {k: v for k, v in record.__dict__.items() if k not in _STANDARD}


class JsonFormatter(logging.Formatter):
    """Formats a record as a single JSON line."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update(fields(record))
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


class PlainFormatter(logging.Formatter):
    """One line for people: time, level, logger, message, then the same fields as the
    JSON lines carry, as `key=value` (values with spaces quoted)."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        extra = " ".join(f"{k}={_plain(v)}" for k, v in fields(record).items())
        if not extra:
            return line
        head, _, trace = line.partition("\n")
        return f"{head} {extra}" + (f"\n{trace}" if trace else "")


def _plain(value: object) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return json.dumps(text) if not text or any(c.isspace() or c in '"=' for c in text) else text


def json_lines_for(setting: bool | None) -> bool:
    """Whether logs are JSON lines: as `HASHWALL_LOG_JSON` says, or, unset, unless stderr
    is a terminal (people read it)."""
    return setting if setting is not None else not sys.stderr.isatty()


def configure_logging(level: str = "INFO", json_lines: bool | None = None) -> None:
    """Send hashwall's and uvicorn's logs to stderr: JSON lines, or lines for people
    (`PlainFormatter`); None chooses as `json_lines_for` does."""
    handler = logging.StreamHandler(sys.stderr)
    if json_lines_for(json_lines):
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(PlainFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # Access lines come from hashwall's own middleware, with timings and the route.
    logging.getLogger("uvicorn.access").disabled = True
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    # httpx logs every request's URL at INFO: a feed's query string may carry a token.
    for name in ("httpx", "httpcore"):
        logging.getLogger(name).setLevel(logging.WARNING)
