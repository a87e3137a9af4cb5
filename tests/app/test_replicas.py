"""Every serving process keeps its index in step through the change log.

Two apps on one database stand for two replicas (or two uvicorn workers): a change made
through one is matchable, or gone, in the other within a second, without a restart.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from app.config import Settings
from app.main import create_app
from app.models import HashChange, HashRecord
from app.store import changes
from tests.conftest import bearer
from tests.factories import random_pdq

#: The issue's bound for a change to reach every process (p99).
WITHIN = 1.0


@pytest.fixture
def replica(settings: Settings, engine: Engine, keys: dict[str, str]) -> Iterator[TestClient]:
    """A second app on the same database, as another replica would be."""
    with TestClient(create_app(settings), raise_server_exceptions=False) as other:
        yield other


def eventually(check: Callable[[], bool], within: float = WITHIN) -> float:
    """Seconds until `check()` holds; fails past `within` (plus scheduling slack)."""
    start = time.monotonic()
    while not check():
        if time.monotonic() - start > within + 0.5:
            pytest.fail(f"not true within {within} s")
        time.sleep(0.02)
    return time.monotonic() - start


def verdict(client: TestClient, key: str, value: str) -> str:
    body = {"items": [{"signal_type": "pdq", "value": value}]}
    response = client.post("/v1/match", json=body, headers=bearer(key))
    assert response.status_code == 200, response.text
    return str(response.json()["results"][0]["verdict"])


def test_a_change_through_one_replica_reaches_the_other(
    client: TestClient, replica: TestClient, keys: dict[str, str]
) -> None:
    key = keys["all"]
    assert client.post("/v1/banks", json={"name": "ncii", "action": "block"}, headers=bearer(key))
    value = random_pdq(11)
    # The bank itself (a policy change) reaches the replica too.
    eventually(lambda: replica.get("/v1/banks/ncii", headers=bearer(key)).status_code == 200)
    assert verdict(replica, key, value) == "allow"

    added = client.post(
        "/v1/banks/ncii/hashes",
        json={"items": [{"signal_type": "pdq", "value": value}]},
        headers=bearer(key),
    )
    assert added.status_code == 200
    assert verdict(client, key, value) == "block"  # the writer: at once
    eventually(lambda: verdict(replica, key, value) == "block")

    disabled = client.patch("/v1/banks/ncii", json={"enabled": False}, headers=bearer(key))
    assert disabled.status_code == 200
    eventually(lambda: verdict(replica, key, value) == "allow")
    client.patch("/v1/banks/ncii", json={"enabled": True}, headers=bearer(key))
    eventually(lambda: verdict(replica, key, value) == "block")

    removed = client.delete(f"/v1/banks/ncii/hashes/pdq/{value}", headers=bearer(key))
    assert removed.status_code in (200, 204), removed.text
    eventually(lambda: verdict(replica, key, value) == "allow")

    metrics = replica.get("/metrics").text
    assert "hashwall_change_lag_sequences 0.0" in metrics
    assert replica.get("/readyz").json()["checks"]["changes"] == "ok"


def test_a_writer_reads_back_only_what_others_wrote(
    client: TestClient,
    replica: TestClient,
    session: Session,
    keys: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A process applies the hashes it adds at once, so its follower skips those changes
    and reads only the ones other processes wrote."""
    key = keys["all"]
    client.post("/v1/banks", json={"name": "ncii", "action": "block"}, headers=bearer(key))
    live = client.app.state.hashwall.live  # type: ignore[attr-defined]
    read_back: list[int] = []
    sync = live.sync
    monkeypatch.setattr(live, "sync", lambda s, ids: (read_back.extend(ids), sync(s, ids))[1])
    own, other = random_pdq(21), random_pdq(22)
    for app, value in ((client, own), (replica, other)):
        added = app.post(
            "/v1/banks/ncii/hashes",
            json={"items": [{"signal_type": "pdq", "value": value}]},
            headers=bearer(key),
        )
        assert added.status_code == 200, added.text
    eventually(lambda: verdict(client, key, other) == "block")
    assert verdict(client, key, own) == "block"
    ids = {
        value: hash_id
        for value, hash_id in session.execute(select(HashRecord.value, HashRecord.id))
    }
    assert read_back == [ids[other]]


#: The name of the thread a race test runs the catch-up in: its stalls apply there only.
CATCH_UP = "catch-up"


def in_thread(target: Callable[[], object], name: str | None = None) -> threading.Thread:
    """Start `target` in a thread of its own."""
    thread = threading.Thread(target=target, name=name)
    thread.start()
    return thread


def answered(request: Callable[[], httpx.Response]) -> tuple[threading.Thread, list[int]]:
    """Send `request` from a thread; the list holds its status code once it answers."""
    statuses: list[int] = []
    return in_thread(lambda: statuses.append(request().status_code)), statuses


def test_a_catch_up_that_read_first_cannot_undo_a_hash_added_again(
    client: TestClient, keys: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A hash removed, then added again at once through the same process: a catch-up
    that read the removal before the new commit must apply it before the new hash, not
    after (the new change is skipped as applied here, so nothing would put it back)."""
    key = keys["all"]
    client.post("/v1/banks", json={"name": "ncii", "action": "block"}, headers=bearer(key))
    value = random_pdq(31)
    body = {"items": [{"signal_type": "pdq", "value": value}]}
    assert client.post("/v1/banks/ncii/hashes", json=body, headers=bearer(key)).status_code == 200
    state = client.app.state.hashwall  # type: ignore[attr-defined]
    state.follower.stop()  # this test runs the catch-up itself
    removed = client.delete(f"/v1/banks/ncii/hashes/pdq/{value}", headers=bearer(key))
    assert removed.status_code == 200

    # The catch-up reads the hash (removed), then stalls before it drops it from the index.
    reading, go_on = threading.Event(), threading.Event()
    remove = state.live.remove

    def stalled_remove(signal_type: str, ids: list[int]) -> None:
        if threading.current_thread().name == CATCH_UP:
            reading.set()
            go_on.wait(5)
        remove(signal_type, ids)

    monkeypatch.setattr(state.live, "remove", stalled_remove)
    catch_up = in_thread(state.follower.catch_up, CATCH_UP)
    assert reading.wait(5)
    add, added = answered(
        lambda: client.post("/v1/banks/ncii/hashes", json=body, headers=bearer(key))
    )
    time.sleep(0.3)  # without the lock, the add is applied by now
    go_on.set()
    catch_up.join(5)
    add.join(5)
    assert added == [200]
    assert verdict(client, key, value) == "block"


def test_a_catch_up_that_read_first_cannot_bring_back_a_removed_hash(
    client: TestClient, replica: TestClient, keys: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A hash another process added is removed here while this process's catch-up holds
    what it read of the add: the removal waits for the catch-up's page, so once it has
    answered, the hash is gone from the very next request."""
    key = keys["all"]
    client.post("/v1/banks", json={"name": "ncii", "action": "block"}, headers=bearer(key))
    state = client.app.state.hashwall  # type: ignore[attr-defined]
    state.follower.stop()  # this test runs the catch-up itself
    state.follower.catch_up()  # the bank
    value = random_pdq(32)
    body = {"items": [{"signal_type": "pdq", "value": value}]}
    assert replica.post("/v1/banks/ncii/hashes", json=body, headers=bearer(key)).status_code == 200

    # The catch-up reads the hash (active), stalls, adds it, and stalls again.
    read, added, go_on, finish = (threading.Event() for _ in range(4))
    add = state.live.add

    def stalled_add(stored: list[object]) -> None:
        if threading.current_thread().name != CATCH_UP or not stored:
            return add(stored)
        read.set()
        go_on.wait(5)
        add(stored)
        added.set()
        finish.wait(5)

    monkeypatch.setattr(state.live, "add", stalled_add)
    catch_up = in_thread(state.follower.catch_up, CATCH_UP)
    assert read.wait(5)
    remove, removed = answered(
        lambda: client.delete(f"/v1/banks/ncii/hashes/pdq/{value}", headers=bearer(key))
    )
    try:
        time.sleep(0.3)  # without the lock, the removal has answered by now
        go_on.set()
        assert added.wait(5)
        # The catch-up has put back what it read; a removal that had answered would now
        # be undone until its next page.
        assert removed == []
    finally:
        go_on.set()
        finish.set()
        catch_up.join(5)
        remove.join(5)
    assert removed == [200]
    assert verdict(client, key, value) == "allow"


def test_every_write_is_logged_in_its_transaction(
    client: TestClient, session: Session, keys: dict[str, str]
) -> None:
    key = keys["all"]
    client.post("/v1/banks", json={"name": "b", "action": "review"}, headers=bearer(key))
    items = [{"signal_type": "pdq", "value": random_pdq(i)} for i in range(3)]
    client.post("/v1/banks/b/hashes", json={"items": items}, headers=bearer(key))
    # The same batch again changes nothing, so logs nothing.
    client.post("/v1/banks/b/hashes", json={"items": items}, headers=bearer(key))
    client.delete("/v1/banks/b", headers=bearer(key))
    rows = session.scalars(select(HashChange).order_by(HashChange.seq)).all()
    assert [(r.kind, len(r.hash_ids or [])) for r in rows] == [
        ("banks", 0),
        ("hashes", 3),
        ("hashes", 3),
        ("banks", 0),
    ]
    assert [r.seq for r in rows] == sorted({r.seq for r in rows})
    assert changes.head(session) == session.scalar(select(func.max(HashChange.seq)))


def test_an_import_from_another_process_becomes_matchable_without_restart(
    client: TestClient, settings: Settings, keys: dict[str, str], tmp_path
) -> None:  # type: ignore[no-untyped-def]
    key = keys["all"]
    client.post("/v1/banks", json={"name": "feed", "action": "block"}, headers=bearer(key))
    value = random_pdq(5)
    source = tmp_path / "hashes.csv"
    source.write_text(f"signal_type,value\npdq,{value}\n")
    # A separate process, as an operator's import or a feed worker would be.
    result = subprocess.run(
        [sys.executable, "-c", "from app.cli import main; main()", "hashes", "import",
         str(source), "--bank", "feed"],
        env=os.environ | {"HASHWALL_DATABASE_URL": settings.database_url},
        capture_output=True,
        text=True,
        timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    eventually(lambda: verdict(client, key, value) == "block")
