"""The README documents every setting and every CLI command."""

from __future__ import annotations

from pathlib import Path

import click
import pytest

from app.cli import main
from app.config import Settings

README = (Path(__file__).parent.parent / "README.md").read_text()


@pytest.mark.parametrize("field", sorted(Settings.model_fields))
def test_every_setting_is_documented(field: str) -> None:
    assert f"HASHWALL_{field.upper()}" in README


def commands(group: click.Group, prefix: str = "hashwall") -> list[str]:
    """Every command under `group`, through `list_commands`/`get_command` (hashwall's own
    group imports its subcommands only when asked)."""
    context = click.Context(group)
    found = []
    for name in group.list_commands(context):
        command = group.get_command(context, name)
        assert command is not None, name
        if isinstance(command, click.Group):
            found += commands(command, f"{prefix} {name}")
        else:
            found.append(f"{prefix} {name}")
    return found


ALL = commands(main)


def test_the_commands_are_found() -> None:
    assert len(ALL) >= 28 and "hashwall ledger forget" in ALL


@pytest.mark.parametrize("command", ALL)
def test_every_command_is_documented(command: str) -> None:
    assert command in README
