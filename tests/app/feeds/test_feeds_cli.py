"""`hashwall feeds` and `hashwall hashes import` as operators run them, and GET /v1/feeds."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from app.cli import main
from app.config import Settings
from app.main import create_app
from app.models import Bank, HashRecord
from tests import feedserver
from tests.conftest import bearer
from tests.factories import random_pdq
from tests.feedserver import FeedState

CREDENTIALS = {
    "HASHWALL_STOPNCII_SUBSCRIPTION_KEY": feedserver.SUBSCRIPTION_KEY,
    "HASHWALL_STOPNCII_FETCH_KEY": feedserver.FETCH_KEY,
}


@pytest.fixture
def run(database_url: str) -> Callable[..., str]:
    runner = CliRunner()

    def invoke(*args: str, code: int = 0, env: dict[str, str] | None = None) -> str:
        result = runner.invoke(
            main, list(args), env={"HASHWALL_DATABASE_URL": database_url, **(env or {})}
        )
        assert result.exit_code == code, (result.output, result.stderr, result.exception)
        return result.stdout + result.stderr

    invoke("db", "upgrade")
    return invoke


def test_add_sync_and_list(
    run: Callable[..., str],
    server: tuple[str, FeedState],
    settings: Settings,
    keys: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    base, state = server
    for i in range(3):
        state.stopncii_record(random_pdq(600 + i))
    run("banks", "create", "ncii")
    output = run(
        "feeds", "add", "--name", "stopncii", "--kind", "stopncii", "--url", base,
        "--bank", "ncii", "--trust", "unconfirmed", "--interval", "60",
    )  # fmt: skip
    assert "feed stopncii added" in output
    assert "already exists" in run(
        "feeds", "add", "--name", "stopncii", "--kind", "file", "--url", "x", "--bank", "ncii",
        code=1,
    )  # fmt: skip
    assert "no bank named 'other'" in run(
        "feeds", "add", "--name", "b", "--kind", "file", "--url", "x", "--bank", "other", code=1
    )
    # Without credentials the sync fails, says which variable to set, and exits 1.
    for name in CREDENTIALS:
        monkeypatch.delenv(name, raising=False)
    assert "needs HASHWALL_STOPNCII_SUBSCRIPTION_KEY" in run("feeds", "sync", "--once", code=1)
    output = run("feeds", "sync", "--once", env=CREDENTIALS)
    assert "stopncii: 3 records in 1 pages, 3 added, 0 removed, 0 rejected" in output
    assert "caught up" in output
    # A token in a feed's query string never reaches the logs (httpx logs request URLs).
    state.threat_updates = [
        {"id": "1", "indicator": random_pdq(700), "type": "HASH_PDQ", "last_updated": 5}
    ]
    run("feeds", "add", "--name", "te", "--kind", "threatexchange", "--url", f"{base}/v1/9",
        "--bank", "ncii")  # fmt: skip
    output = run(
        "feeds", "sync", "--feed", "te",
        env={"HASHWALL_THREATEXCHANGE_TOKEN": feedserver.TE_TOKEN, "HASHWALL_LOG_LEVEL": "DEBUG"},
    )  # fmt: skip
    assert "te: 1 records in 1 pages, 1 added" in output
    for secret in (feedserver.TE_TOKEN, *CREDENTIALS.values()):
        assert secret not in output
    run("feeds", "disable", "te")
    listed = json.loads(run("feeds", "list", "--json"))  # by name: stopncii, te
    assert listed[0]["records"] == 3 and listed[0]["trust"] == "unconfirmed"
    assert listed[0]["last_error"] is None and listed[0]["last_success_at"]
    assert feedserver.FETCH_KEY not in json.dumps(listed)
    # No feedback key in this environment: the StopNCII feed says its feedback is off.
    assert listed[0]["feedback_configured"] is False and listed[1]["feedback_configured"] is None
    assert "feedback not configured" in run("feeds", "list").splitlines()[0]
    run("feeds", "disable", "stopncii")
    assert "stopncii:" not in run("feeds", "sync", "--once")  # nothing enabled to sync
    assert json.loads(run("feeds", "list", "--json"))[0]["enabled"] is False
    run("feeds", "enable", "stopncii")

    with TestClient(create_app(settings)) as client:
        response = client.get("/v1/feeds", headers=bearer(keys["banks:read"]))
        assert response.status_code == 200
        feed = response.json()["feeds"][0]
        assert feed["name"] == "stopncii" and feed["bank"] == "ncii" and feed["added"] == 3
        assert feed["checkpoint"]["token"] is None
        assert client.get("/v1/feeds", headers=bearer(keys["match"])).status_code == 403


def write_jsonl(path: Path, count: int, seed: int) -> list[str]:
    values = [random_pdq(seed + i) for i in range(count)]
    with path.open("w") as f:
        for number, value in enumerate(values):
            record = {"signal_type": "pdq", "value": value, "external_id": f"e{number}"}
            if number % 97 == 5:
                record["status"] = "withdrawn"  # withdrawals of hashes never added: no-ops
            f.write(json.dumps(record) + "\n")
            if number % 1000 == 7:
                f.write("{not json\n")
    return values


def bank_state(sessions: sessionmaker[Session], bank: str) -> set[tuple[str, str, str | None]]:
    with sessions() as session:
        rows = session.execute(
            select(HashRecord.value, HashRecord.status, HashRecord.external_id)
            .join(Bank)
            .where(Bank.name == bank)
        )
        return {(value, status, external_id) for value, status, external_id in rows}


@pytest.mark.slow
def test_an_import_killed_with_sigkill_ends_as_an_uninterrupted_one(
    run: Callable[..., str],
    database_url: str,
    sessions: sessionmaker[Session],
    tmp_path: Path,
) -> None:
    path = tmp_path / "bank.jsonl"
    write_jsonl(path, 30_000, 10_000)
    run("banks", "create", "clean")
    run("banks", "create", "killed")
    assert "rejected" in run("hashes", "import", str(path), "--bank", "clean", code=3)
    expected = bank_state(sessions, "clean")
    assert len(expected) > 29_000

    env = os.environ | {"HASHWALL_DATABASE_URL": database_url, "HASHWALL_LOG_LEVEL": "WARNING"}
    command = [sys.executable, "-c", "from app.cli import main; main()", "hashes", "import",
               str(path), "--bank", "killed", "--batch-size", "1000"]  # fmt: skip
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    # Kill it mid-way: some batches committed, more to come.
    while time.monotonic() < deadline and len(bank_state(sessions, "killed")) < 5_000:
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL
    partial = bank_state(sessions, "killed")
    assert 0 < len(partial) < len(expected)
    # Running it again ends in the same state as the uninterrupted import.
    assert "rejected" in run("hashes", "import", str(path), "--bank", "killed", code=3)
    assert bank_state(sessions, "killed") == expected
    # And a third time changes nothing.
    output = run("hashes", "import", str(path), "--bank", "killed", code=3)
    assert " 0 added, 0 reactivated, 0 updated" in output
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(HashRecord)) == 2 * len(expected)


def test_an_import_on_a_terminal_shows_progress_with_rate_and_eta(
    run: Callable[..., str], database_url: str, tmp_path: Path
) -> None:
    import pty

    path = tmp_path / "bank.jsonl"
    write_jsonl(path, 3000, 90_000)
    run("banks", "create", "ncii")
    env = os.environ | {"HASHWALL_DATABASE_URL": database_url, "COLUMNS": "160"}
    command = [sys.executable, "-c", "from app.cli import main; main()", "hashes", "import",
               str(path), "--bank", "ncii", "--batch-size", "500"]  # fmt: skip
    leader, follower = pty.openpty()
    process = subprocess.Popen(command, env=env, stdin=follower, stdout=follower, stderr=follower)
    os.close(follower)
    output = b""
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the terminal closed: the process is done
            break
        if not chunk:
            break
        output += chunk
    process.wait(timeout=60)
    os.close(leader)
    text = output.decode(errors="replace")
    assert "importing" in text and "lines/s" in text and "ETA" in text
    assert "3,0" in text  # the line count, as the bar draws it
    withdrawn = sum(1 for number in range(3000) if number % 97 == 5)
    assert f"imported into ncii: {3000 - withdrawn} added" in text
