"""Every command that needs the database, pointed at one nobody listens for: one line
naming it (its password masked), exit status 4, never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from app.cli import main

DEAD = "postgresql://hashwall:s3cret@127.0.0.1:1/hashwall"

COMMANDS = [
    ["db", "upgrade"],
    ["serve"],
    ["banks", "list"],
    ["banks", "create", "ncii"],
    ["keys", "list"],
    ["keys", "create", "--name", "k", "--scopes", "match"],
    ["feeds", "list"],
    ["ledger", "show", "c-1"],
    ["ledger", "forget", "c-1"],
    ["audit", "verify"],
    ["worker", "--once"],
    ["demo"],
]


@pytest.mark.parametrize("args", COMMANDS, ids=" ".join)
def test_an_unreachable_database_is_one_line_and_exit_4(args: list[str]) -> None:
    result = CliRunner().invoke(main, args, env={"HASHWALL_DATABASE_URL": DEAD})
    assert result.exit_code == 4, (result.output, result.exception)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.output
    assert "cannot reach the database at" in lines[0]
    assert "127.0.0.1:1" in lines[0] and "s3cret" not in result.output


def test_a_fresh_database_is_created_then_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    env = {"HASHWALL_DATABASE_URL": "sqlite:///relative.db"}
    runner = CliRunner()
    first = runner.invoke(main, ["db", "upgrade"], env=env)
    assert first.exit_code == 0, first.output
    assert "created the schema (" in first.output and f"{tmp_path}/relative.db" in first.output
    again = runner.invoke(main, ["db", "upgrade"], env=env)
    assert "is already at" in again.output


def test_a_missing_sqlite_file_is_named_and_not_created(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    env = {"HASHWALL_DATABASE_URL": "sqlite:///elsewhere.db"}
    result = CliRunner().invoke(main, ["banks", "list"], env=env)
    assert result.exit_code == 1
    assert f"there is no database at {tmp_path}/elsewhere.db" in result.stderr
    assert "hashwall db upgrade" in result.stderr
    assert not (tmp_path / "elsewhere.db").exists()
