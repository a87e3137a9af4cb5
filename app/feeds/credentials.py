"""Feed credentials: from the environment or a secrets file, never the database or a log.

A secret `KEY` of feed `NAME` of kind `KIND` is the first set of:

1. `HASHWALL_FEED_<NAME>_<KEY>` (the feed's own, e.g. `HASHWALL_FEED_STOPNCII_EU_FETCH_KEY`),
2. `HASHWALL_<KIND>_<KEY>` (every feed of that kind, e.g. `HASHWALL_STOPNCII_FETCH_KEY`),

looked up in the environment, then in `HASHWALL_SECRETS_FILE` (`NAME=value` lines, as a
container orchestrator mounts them). Names are upper-cased, other characters become `_`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path

from app.feeds.base import FeedRefused


def env_name(*parts: str) -> str:
    """`HASHWALL_` and the parts, upper-cased, with anything but letters and digits as `_`."""
    return "HASHWALL_" + "_".join(re.sub(r"[^A-Za-z0-9]", "_", part).upper() for part in parts)


def read_secrets_file(path: Path | None) -> dict[str, str]:
    """`NAME=value` lines (blank lines and `#` comments skipped, quotes stripped)."""
    if path is None:
        return {}
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise FeedRefused(f"secrets file {path} cannot be read: {error.strerror}") from None
    found = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        name, value = line.split("=", 1)
        found[name.strip().removeprefix("export ").strip()] = value.strip().strip("'\"")
    return found


class Credentials:
    """Looks up one feed's secrets."""

    def __init__(
        self,
        feed_name: str,
        kind: str,
        secrets_file: Path | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.feed_name = feed_name
        self.kind = kind
        self._environ = os.environ if environ is None else environ
        self._file = read_secrets_file(secrets_file)

    def names(self, key: str) -> tuple[str, str]:
        """The two variable names `key` is looked up under, the feed's own first."""
        return env_name("FEED", self.feed_name, key), env_name(self.kind, key)

    def get(self, key: str) -> str | None:
        """The secret, or None when it is set nowhere."""
        for name in self.names(key):
            for source in (self._environ, self._file):
                value = source.get(name)
                if value:
                    return value
        return None

    def require(self, key: str) -> str:
        """The secret; `FeedRefused` naming where to set it when it is missing."""
        value = self.get(key)
        if value is None:
            own, shared = self.names(key)
            raise FeedRefused(f"feed {self.feed_name!r} needs {shared} (or {own}) to be set")
        return value
