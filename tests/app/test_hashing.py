"""Media hashed in worker processes gives the same hashes and errors as in threads."""

from __future__ import annotations

import asyncio
import importlib.util
import sys
import time
import types

import pytest

from app import hash_worker
from app.errors import InvalidInput, UnsupportedMediaType
from app.hashing import MediaHasher
from matcher.limits import Limits
from matcher.media import hash_file
from matcher.signals import default_registry
from tests.factories import photo


@pytest.fixture(scope="module")
def hasher():  # type: ignore[no-untyped-def]
    hasher = MediaHasher(default_registry(), Limits(), processes=2, concurrency=2)
    yield hasher
    hasher.close()


def test_processes_hash_like_the_server_would(hasher: MediaHasher) -> None:
    files = [("a.jpg", photo(1)), ("b.png", photo(2, ".png")), ("c.jpg", photo(3))]
    got = asyncio.run(hasher.hash_files(files))
    want = [hash_file(data, default_registry(), Limits()) for _, data in files]
    assert got == want


def test_errors_name_the_file(hasher: MediaHasher) -> None:
    files = [("good.jpg", photo(1)), ("bad.bin", b"not an image at all")]
    with pytest.raises(UnsupportedMediaType) as caught:
        asyncio.run(hasher.hash_files(files))
    assert caught.value.errors == [
        {"pointer": "/file/1", "detail": caught.value.errors[0]["detail"]}
    ]
    assert "(bad.bin)" in caught.value.detail
    with pytest.raises(InvalidInput, match="truncated"):
        asyncio.run(hasher.hash_files([("t.jpg", photo(4)[:3000])]))


def test_processes_load_the_matcher_not_the_server(monkeypatch: pytest.MonkeyPatch) -> None:
    """A spawned child imports its parent's main module again; for `hashwall serve` that
    is the whole CLI and web stack, which a hashing process never uses."""
    cli = types.ModuleType("__main__")
    cli.__spec__ = importlib.util.find_spec("app.cli")
    monkeypatch.setitem(sys.modules, "__main__", cli)
    hasher = MediaHasher(default_registry(), Limits(), processes=1, concurrency=1)
    try:
        hasher.start()
        assert hasher._pool is not None
        # A builtin is pickled by name: the child imports nothing to run it.
        loaded = hasher._pool.submit(eval, "sorted(__import__('sys').modules)").result()
    finally:
        hasher.close()
    assert "matcher.media" in loaded and "av" in loaded
    assert not {"app.cli", "fastapi", "sqlalchemy"} & set(loaded)


def test_idle_trim_gives_memory_back_once_per_pause() -> None:
    """Free memory goes back to the system after a pause in the work, never during it,
    and once per pause."""
    calls: list[float] = []
    trim = hash_worker.IdleTrim(idle=0.05, release=lambda: calls.append(time.monotonic()))
    trim.start()
    try:
        with trim.busy():
            pass
        with trim.busy():  # at once busy again: nothing given back while it works
            time.sleep(0.3)
            assert calls == []
        finished = time.monotonic()
        time.sleep(0.3)
        assert len(calls) == 1 and calls[0] - finished >= 0.05
        time.sleep(0.2)
        assert len(calls) == 1  # nothing hashed since: nothing more to give back
        with trim.busy():
            pass
        time.sleep(0.3)
        assert len(calls) == 2
    finally:
        trim.stop()


def test_each_hashing_process_runs_its_idle_trim(hasher: MediaHasher) -> None:
    hasher.start()
    assert hasher._pool is not None
    started = [
        hasher._pool.submit(
            eval, "__import__('app.hash_worker').hash_worker._worker_trim is not None"
        )
        for _ in range(4)
    ]
    assert all(future.result() for future in started)
