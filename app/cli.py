"""The `hashwall` command. It calls the same store, matcher and policy modules as the
HTTP API.

Subcommands are imported when they run, not when the command starts: `hashwall --help`
and a simple command do not pay for numpy, SQLAlchemy, FastAPI and OpenCV up front
(importing everything took about 1.1 s here).
"""

from __future__ import annotations

import importlib
from typing import Any

import click

#: Each subcommand: where it is defined, and its one line of help, shown by `--help`
#: without importing it (a test holds these to the commands' own docstrings).
COMMANDS: dict[str, tuple[str, str]] = {
    "audit": ("app.audit.cli:audit_group", "The audit trail: who changed what, hash-chained."),
    "banks": ("app.banks_cli:banks", "Banks of hashes."),
    "db": ("app.service_cli:db", "Database schema."),
    "demo": (
        "app.service_cli:demo",
        "Create the database, a demo bank with sample hashes, and print a demo key.",
    ),
    "feeds": (
        "app.feeds.cli:feeds",
        "Hash-sharing feeds (StopNCII, ThreatExchange, files) that fill banks.",
    ),
    "hash": (
        "app.service_cli:hash_command",
        "Print the hashes of image and video files (images: pdq with quality, phash, md5, "
        "sha256; videos: md5, sha256 and vpdq, shown as its identity and frame count).",
    ),
    "hashes": ("app.banks_cli:hashes", "Hashes in banks."),
    "index": (
        "app.service_cli:index_group",
        "Snapshots of the in-memory index, so servers restart in seconds.",
    ),
    "keys": ("app.auth.cli:keys", "API keys."),
    "ledger": (
        "app.ledger.cli:ledger_group",
        "The content ledger: hashes of uploads that named a content id (never the media).",
    ),
    "serve": ("app.service_cli:serve", "Serve the HTTP API."),
    "verdicts": (
        "app.verdicts_cli:verdicts_group",
        "The verdict log: what was decided, for which content, under which policy.",
    ),
    "worker": (
        "app.worker.cli:worker",
        "Run every background duty: feed syncs and their feedback, the takedown sweep (with "
        "HASHWALL_LEDGER_DAYS set), webhook deliveries, retention purges.",
    ),
}


class Hashwall(click.Group):
    """The command group: subcommands imported on use; and a database that cannot be
    reached, wherever a command meets it, is one line and exit status 4, not a
    traceback."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS:
            return None
        module, _, attribute = COMMANDS[cmd_name][0].partition(":")
        command: click.Command = getattr(importlib.import_module(module), attribute)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        with formatter.section("Commands"):
            formatter.write_dl([(name, line) for name, (_, line) in sorted(COMMANDS.items())])

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except Exception as error:
            from sqlalchemy.exc import InterfaceError, OperationalError

            if not isinstance(error, OperationalError | InterfaceError):
                raise
            from app.config import Settings
            from app.console import ExitCode, fail
            from app.db import unreachable

            fail(unreachable(Settings().database_url, error), ExitCode.UNAVAILABLE)


@click.group(cls=Hashwall)
@click.version_option(package_name="hashwall")
def main() -> None:
    """hashwall: block re-uploads of reported intimate images by their hashes."""


if __name__ == "__main__":
    main()
