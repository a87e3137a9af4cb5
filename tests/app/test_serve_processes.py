"""Two real `hashwall serve` processes on one PostgreSQL, kept in step by the change log."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine

from tests.conftest import bearer
from tests.factories import photo, random_pdq

pytestmark = pytest.mark.slow

on_postgresql = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Server:
    """One `hashwall serve` process."""

    def __init__(self, database_url: str, *options: str, env: dict[str, str] | None = None) -> None:
        self.database_url = database_url
        self.options = options
        self.env = env or {}
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        command = "from app.cli import main; main()"
        self.process = subprocess.Popen(
            [sys.executable, "-c", command, "serve", "--host", "127.0.0.1", "--port",
             str(self.port), *self.options],
            env=os.environ | {"HASHWALL_DATABASE_URL": self.database_url,
                              "HASHWALL_HASH_PROCESSES": "0", "HASHWALL_LOG_LEVEL": "WARNING"}
                | self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip

    def wait_ready(self, timeout: float = 60) -> float:
        start = time.monotonic()
        while time.monotonic() - start < timeout:
            assert self.process is not None and self.process.poll() is None, "server exited"
            try:
                if httpx.get(f"{self.url}/readyz", timeout=1).status_code == 200:
                    return time.monotonic() - start
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        pytest.fail(f"{self.url} not ready within {timeout} s")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@contextmanager
def servers(database_url: str, count: int) -> Iterator[list[Server]]:
    started = [Server(database_url) for _ in range(count)]
    try:
        for server in started:
            server.start()
        for server in started:
            server.wait_ready()
        yield started
    finally:
        for server in started:
            server.stop()


def verdict(server: Server, key: str, value: str) -> str:
    response = httpx.post(
        f"{server.url}/v1/match",
        json={"items": [{"signal_type": "pdq", "value": value}]},
        headers=bearer(key),
        timeout=10,
    )
    assert response.status_code == 200, response.text
    return str(response.json()["results"][0]["verdict"])


def seconds_until_block(server: Server, key: str, value: str, limit: float = 5) -> float:
    start = time.monotonic()
    while verdict(server, key, value) != "block":
        if time.monotonic() - start > limit:
            pytest.fail(f"{value} not matched by {server.url} within {limit} s")
        time.sleep(0.01)
    return time.monotonic() - start


@on_postgresql
def test_add_through_one_match_through_the_other_and_restart_under_load(
    database_url: str, engine: Engine, keys: dict[str, str]
) -> None:
    key = keys["all"]
    with servers(database_url, 2) as (writer, reader):
        created = httpx.post(
            f"{writer.url}/v1/banks", json={"name": "ncii", "action": "block"},
            headers=bearer(key),
        )  # fmt: skip
        assert created.status_code == 201, created.text
        # Warm both processes up (first requests load code and open connections): what is
        # measured is propagation, not a cold start.
        verdict(reader, key, random_pdq(99))
        verdict(writer, key, random_pdq(99))
        delays = []
        for seed in range(10):
            value = random_pdq(seed)
            added = httpx.post(
                f"{writer.url}/v1/banks/ncii/hashes",
                json={"items": [{"signal_type": "pdq", "value": value}]},
                headers=bearer(key),
            )
            assert added.status_code == 200, added.text
            delays.append(seconds_until_block(reader, key, value))
        assert max(delays) < 1.0, delays

        # Restart the reader while the writer keeps adding and matching.
        stop = threading.Event()
        added_meanwhile: list[str] = []
        failures: list[str] = []

        def load() -> None:
            seed = 1000
            with httpx.Client(headers=bearer(key), timeout=10) as http:
                while not stop.is_set():
                    value = random_pdq(seed)
                    seed += 1
                    response = http.post(
                        f"{writer.url}/v1/banks/ncii/hashes",
                        json={"items": [{"signal_type": "pdq", "value": value}]},
                    )
                    if response.status_code != 200:
                        failures.append(response.text)
                    added_meanwhile.append(value)
                    matched = http.post(
                        f"{writer.url}/v1/match",
                        json={"items": [{"signal_type": "pdq", "value": value}]},
                    )
                    if matched.json()["results"][0]["verdict"] != "block":
                        failures.append(f"writer did not match {value} at once")

        worker = threading.Thread(target=load)
        worker.start()
        try:
            time.sleep(0.3)
            reader.stop()
            time.sleep(0.5)
            reader.start()
            reader.wait_ready()
            time.sleep(0.3)
        finally:
            stop.set()
            worker.join()
        assert failures == []
        assert len(added_meanwhile) > 5
        for value in added_meanwhile:
            assert seconds_until_block(reader, key, value, limit=2) < 2

        # Withdrawal reaches the other process too.
        value = added_meanwhile[0]
        removed = httpx.delete(
            f"{writer.url}/v1/banks/ncii/hashes/pdq/{value}", headers=bearer(key)
        )
        assert removed.status_code in (200, 204), removed.text
        start = time.monotonic()
        while verdict(reader, key, value) != "allow":
            assert time.monotonic() - start < 1.5, "withdrawn hash still matches"
            time.sleep(0.01)


def test_every_worker_of_one_server_matches_a_new_hash(
    database_url: str, engine: Engine, keys: dict[str, str]
) -> None:
    """`serve --workers 2`: whichever worker answers, a hash added through the other
    matches within a second."""
    key = keys["all"]
    server = Server(database_url, "--workers", "2")
    server.start()
    try:
        server.wait_ready()
        created = httpx.post(
            f"{server.url}/v1/banks", json={"name": "ncii", "action": "block"},
            headers=bearer(key),
        )  # fmt: skip
        assert created.status_code == 201, created.text
        value = random_pdq(77)
        added = httpx.post(
            f"{server.url}/v1/banks/ncii/hashes",
            json={"items": [{"signal_type": "pdq", "value": value}]},
            headers=bearer(key),
        )
        assert added.status_code == 200, added.text
        time.sleep(1.0)
        # New connections each time, so the kernel spreads them over both workers.
        assert {verdict(server, key, value) for _ in range(40)} == {"block"}
    finally:
        server.stop()


@on_postgresql
def test_a_feed_worker_reaches_every_server(
    database_url: str, engine: Engine, keys: dict[str, str]
) -> None:
    from app.db import make_session_factory
    from app.policy import Action
    from app.store import banks as bank_store
    from app.store import feeds as feed_store
    from matcher.signals import default_registry
    from tests import feedserver

    value = random_pdq(7001)
    with feedserver.feed_server() as (base, state), servers(database_url, 2) as (one, two):
        with make_session_factory(engine)() as session, session.begin():
            bank = bank_store.create_bank(session, default_registry(), "ncii", Action.BLOCK)
            feed_store.create_feed(session, "stopncii", "stopncii", base, bank, interval_seconds=1)
        worker = subprocess.Popen(
            [sys.executable, "-c", "from app.cli import main; main()", "feeds", "sync", "--follow"],
            env=os.environ | {
                "HASHWALL_DATABASE_URL": database_url,
                "HASHWALL_LOG_LEVEL": "WARNING",
                "HASHWALL_STOPNCII_SUBSCRIPTION_KEY": feedserver.SUBSCRIPTION_KEY,
                "HASHWALL_STOPNCII_FETCH_KEY": feedserver.FETCH_KEY,
            },
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            state.stopncii_record(value)
            for server in (one, two):
                seconds_until_block(server, keys["match"], value, limit=10)
            state.stopncii_record(value, "Withdrawn", timestamp=5000)
            start = time.monotonic()
            for server in (one, two):
                while verdict(server, keys["match"], value) != "allow":
                    assert time.monotonic() - start < 10, "withdrawal did not reach the servers"
                    time.sleep(0.02)
        finally:
            worker.terminate()
            assert worker.wait(timeout=15) == 0


def mapped_libraries(pid: int) -> str:
    """The files a process has mapped (its shared libraries among them)."""
    return Path(f"/proc/{pid}/maps").read_text()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_server_leaves_media_libraries_to_its_hashing_processes(
    database_url: str, engine: Engine, keys: dict[str, str]
) -> None:
    """`hashwall serve` hashes uploads in its hashing processes; the server process itself
    never loads OpenCV or PyAV (tens of MB each), nor, on SQLite, the PostgreSQL driver."""
    server = Server(database_url, env={"HASHWALL_HASH_PROCESSES": "1"})
    server.start()
    try:
        server.wait_ready()
        response = httpx.post(
            f"{server.url}/v1/match/media",
            files=[("file", ("a.jpg", photo(1), "image/jpeg"))],
            headers=bearer(keys["all"]),
            timeout=30,
        )
        assert response.status_code == 200, response.text
        assert "pdq" in {h["signal_type"] for h in response.json()["results"][0]["hashes"]}
        assert server.process is not None
        own = mapped_libraries(server.process.pid)
        tasks = Path(f"/proc/{server.process.pid}/task")
        children = [
            int(c) for task in tasks.iterdir() for c in (task / "children").read_text().split()
        ]
        assert any("cv2" in mapped_libraries(child) for child in children)
    finally:
        server.stop()
    for library in ("cv2", "av.libs", "psycopg"):
        assert library not in own, f"the server process loaded {library}"
