"""Plain logs carry the structured fields that JSON lines carry."""

from __future__ import annotations

import io
import logging
import sys

import pytest

from app.logs import JsonFormatter, PlainFormatter, configure_logging


def record(**extra: object) -> logging.LogRecord:
    entry = logging.LogRecord("hashwall.access", logging.INFO, "x.py", 1, "request", (), None)
    entry.__dict__.update(extra)
    return entry


def test_plain_lines_carry_the_fields_as_key_value() -> None:
    line = PlainFormatter().format(
        record(method="POST", route="/v1/match", status=200, duration_ms=1.5, key=None)
    )
    assert line.endswith(
        "INFO hashwall.access request method=POST route=/v1/match status=200 "
        "duration_ms=1.5 key=null"
    )


def test_values_with_spaces_are_quoted() -> None:
    line = PlainFormatter().format(record(error="feed sync failed", sizes={"pdq": 3}))
    assert 'error="feed sync failed"' in line
    assert 'sizes="{\\"pdq\\": 3}"' in line


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_unset_chooses_by_whether_stderr_is_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        monkeypatch.setattr(sys, "stderr", Terminal())
        configure_logging("INFO", None)
        assert isinstance(root.handlers[0].formatter, PlainFormatter)
        monkeypatch.setattr(sys, "stderr", io.StringIO())
        configure_logging("INFO", None)
        assert isinstance(root.handlers[0].formatter, JsonFormatter)
        configure_logging("INFO", False)
        assert isinstance(root.handlers[0].formatter, PlainFormatter)
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
