"""Plain logs carry the structured fields that JSON lines carry."""

from __future__ import annotations

import logging

from app.logs import PlainFormatter


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
