"""A server starts from the newest index snapshot and replays the change log after it."""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from app.config import Settings
from app.main import create_app
from tests.conftest import bearer
from tests.factories import random_pdq


def verdicts(client: TestClient, key: str, values: list[str]) -> list[str]:
    body = {"items": [{"signal_type": "pdq", "value": v} for v in values]}
    response = client.post("/v1/match", json=body, headers=bearer(key))
    assert response.status_code == 200, response.text
    return [r["verdict"] for r in response.json()["results"]]


def add(client: TestClient, key: str, values: list[str]) -> None:
    body = {"items": [{"signal_type": "pdq", "value": v} for v in values]}
    response = client.post("/v1/banks/ncii/hashes", json=body, headers=bearer(key))
    assert response.status_code == 200, response.text


def test_restart_from_a_snapshot_then_the_changes_after_it(
    settings: Settings,
    engine: Engine,
    keys: dict[str, str],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    key = keys["all"]
    folder = tmp_path / "snapshots"
    settings = settings.model_copy(update={"snapshot_dir": folder})
    before, after = [random_pdq(i) for i in range(5)], [random_pdq(100 + i) for i in range(3)]
    with TestClient(create_app(settings)) as client:
        client.post("/v1/banks", json={"name": "ncii", "action": "block"}, headers=bearer(key))
        add(client, key, before)
        # The snapshot worker is a process of its own.
        result = subprocess.run(
            [sys.executable, "-c", "from app.cli import main; main()", "index", "snapshot"],
            env=os.environ
            | {
                "HASHWALL_DATABASE_URL": settings.database_url,
                "HASHWALL_SNAPSHOT_DIR": str(folder),
            },
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0, result.stderr
        assert re.search(r"^  pdq +5 hashes$", result.stdout, re.MULTILINE), result.stdout
        # After the snapshot: two more hashes, one withdrawal.
        add(client, key, after)
        removed = client.delete(f"/v1/banks/ncii/hashes/pdq/{before[0]}", headers=bearer(key))
        assert removed.status_code in (200, 204)

    assert len(list(folder.glob("snapshot-*"))) == 1
    with caplog.at_level(logging.INFO, logger="app.snapshots"):
        restarted_app = create_app(settings)
        with TestClient(restarted_app) as restarted:
            # Loaded from the snapshot, not from the database...
            assert "index snapshot loaded" in caplog.messages
            # ...and caught up with what changed after it.
            assert verdicts(restarted, key, before + after) == ["allow"] + ["block"] * 7
            assert restarted.get("/readyz").status_code == 200


def test_a_snapshot_from_another_database_is_ignored(
    settings: Settings, engine: Engine, keys: dict[str, str], tmp_path: Path
) -> None:
    key = keys["all"]
    folder = tmp_path / "snapshots"
    settings = settings.model_copy(update={"snapshot_dir": folder})
    stray = folder / f"snapshot-{10**9:020d}"
    stray.mkdir(parents=True)
    (stray / "meta.json").write_text(
        '{"seq": 1000000000, "backend": "mih", "signals": ["md5", "pdq", "phash", "sha256"]}'
    )
    with TestClient(create_app(settings)) as client:
        client.post("/v1/banks", json={"name": "ncii", "action": "block"}, headers=bearer(key))
        add(client, key, [random_pdq(1)])
        assert verdicts(client, key, [random_pdq(1)]) == ["block"]
