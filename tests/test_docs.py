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
    found = []
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            found += commands(command, f"{prefix} {name}")
        else:
            found.append(f"{prefix} {name}")
    return found


@pytest.mark.parametrize("command", commands(main))
def test_every_command_is_documented(command: str) -> None:
    assert command in README
