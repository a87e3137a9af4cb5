"""Bulk ingest and the live index at scale, with real processes on PostgreSQL.

1. `hashwall hashes import` of N random pdq hashes from JSONL while a `hashwall serve`
   runs: time until the last hash is matchable in the server, import rate, and the
   importer's memory over time (it must stay flat).
2. With the N hashes loaded: a second server's restart-to-ready time, from the database
   and from an index snapshot.
3. Propagation: a hash added through one server's API, and a new record on a (local)
   StopNCII feed picked up by `hashwall feeds sync --follow`, until matchable in the
   other server (p50, p99).

    python benchmarks/ingest_bench.py [--n N] [--samples K] [--database-url URL]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np
import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import RESULTS, percentile, table, write_section
from benchmarks.servers import Server, rss_mib

CACHE = Path.home() / ".cache" / "hashwall-bench"
ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/test"
SCHEMA = "bench_ingest"


def jsonl_file(n: int) -> Path:
    """N random pdq hashes as JSONL (made once, then cached)."""
    path = CACHE / f"ingest-{n}.jsonl"
    if path.exists():
        return path
    CACHE.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    rng = np.random.default_rng(11)
    with partial.open("w") as f:
        for start in range(0, n, 100_000):
            codes = rng.integers(0, 256, (min(100_000, n - start), 32), dtype=np.uint8)
            f.writelines(
                f'{{"signal_type": "pdq", "value": "{code.tobytes().hex()}", '
                f'"external_id": "case-{start + i}"}}\n'
                for i, code in enumerate(codes)
            )
    partial.rename(path)
    return path


def last_values(path: Path, count: int) -> list[str]:
    """The hash values of the last `count` lines (what becomes matchable last)."""
    with path.open("rb") as f:
        f.seek(max(0, path.stat().st_size - 200 * count))
        lines = f.read().decode().splitlines()[-count:]
    return [json.loads(line)["value"] for line in lines]


def fresh_schema(dsn: str) -> str:
    """A URL on an empty PostgreSQL schema for this run."""
    with psycopg.connect(dsn, autocommit=True) as admin:
        admin.execute(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")
        admin.execute(f"CREATE SCHEMA {SCHEMA}")
    return f"{dsn}?options=-csearch_path%3D{SCHEMA}"


def hashwall(*args: str, env: dict[str, str]) -> str:
    """Run a `hashwall` command; its stdout."""
    return subprocess.run(
        [sys.executable, "-m", "app.cli", *args],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout


def verdict(base: str, key: str, value: str) -> str:
    response = httpx.post(
        f"{base}/v1/match",
        json={"items": [{"signal_type": "pdq", "value": value}]},
        headers={"Authorization": f"Bearer {key}"},
        timeout=30,
    )
    response.raise_for_status()
    return str(response.json()["results"][0]["verdict"])


def until_blocked(base: str, key: str, value: str, limit: float = 600) -> float:
    """Seconds until `value` is blocked by the server at `base`."""
    start = time.perf_counter()
    while verdict(base, key, value) != "block":
        if time.perf_counter() - start > limit:
            sys.exit(f"{value} not matchable at {base} within {limit} s")
        time.sleep(0.005)
    return time.perf_counter() - start


def timed_import(path: Path, env: dict[str, str]) -> tuple[float, list[float]]:
    """Run the import; (seconds, the importer's RSS in MiB sampled every 0.5 s)."""
    start = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "hashes", "import", str(path), "--bank", "feed"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    samples = []
    while process.poll() is None:
        with contextlib.suppress(OSError, AttributeError):
            resident = rss_mib(process.pid)[0]
            if resident > 1:  # not before the interpreter is up
                samples.append(resident)
        time.sleep(0.5)
    if process.returncode != 0:
        sys.exit(f"import failed: {process.stderr.read().decode()[-2000:]}")  # type: ignore[union-attr]
    return time.perf_counter() - start, samples


def random_hex(rng: np.random.Generator) -> str:
    return rng.integers(0, 256, 32, dtype=np.uint8).tobytes().hex()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--samples", type=int, default=50, help="propagation measurements")
    parser.add_argument("--database-url", default=ADMIN_DSN, help="a PostgreSQL to use")
    parser.add_argument("--port", type=int, default=8771)
    parser.add_argument("--results", type=Path, default=RESULTS)
    args = parser.parse_args()

    from app.auth import create_key
    from app.db import make_engine, make_session_factory
    from app.migrate import upgrade
    from tests import feedserver

    path = jsonl_file(args.n)
    url = fresh_schema(args.database_url)
    workdir = Path(tempfile.mkdtemp(prefix="hashwall-ingest-"))
    env = {
        **os.environ,
        "HASHWALL_DATABASE_URL": url,
        "HASHWALL_LOG_LEVEL": "WARNING",
        "HASHWALL_HASH_PROCESSES": "0",
        "HASHWALL_SNAPSHOT_DIR": str(workdir / "snapshots"),
        "HASHWALL_STOPNCII_SUBSCRIPTION_KEY": feedserver.SUBSCRIPTION_KEY,
        "HASHWALL_STOPNCII_FETCH_KEY": feedserver.FETCH_KEY,
    }
    engine = make_engine(url)
    upgrade(engine)
    with make_session_factory(engine)() as session, session.begin():
        key = create_key(session, "bench", ["admin"])
    engine.dispose()
    hashwall("banks", "create", "feed", env=env)
    log = workdir / "server.log"
    no_snapshots = {k: v for k, v in env.items() if k != "HASHWALL_SNAPSHOT_DIR"}
    first = Server(no_snapshots, args.port, log)

    # 1. Import while a server runs; until the last line is matchable there.
    start = time.perf_counter()
    import_seconds, rss = timed_import(path, env)
    tail = last_values(path, 3)
    for value in tail:
        until_blocked(first.base, key, value)
    matchable = time.perf_counter() - start
    server_rss = rss_mib(first.process.pid)[0]

    # 2. Restart to ready, from the database, then from a snapshot.
    second = Server(no_snapshots, args.port + 1, log)
    from_database = second.ready_seconds
    second.stop()
    hashwall("index", "snapshot", env=env)
    second = Server(env, args.port + 1, log)
    from_snapshot = second.ready_seconds

    # 3. Propagation: API add on the first server, matchable on the second.
    rng = np.random.default_rng(12)
    api_latency = []
    with httpx.Client(base_url=first.base, headers={"Authorization": f"Bearer {key}"}) as client:
        for _ in range(args.samples):
            value = random_hex(rng)
            sent = time.perf_counter()
            client.post(
                "/v1/banks/feed/hashes", json={"items": [{"signal_type": "pdq", "value": value}]}
            ).raise_for_status()
            api_latency.append(time.perf_counter() - sent + until_blocked(second.base, key, value))
            time.sleep(0.05)

    # ... and a feed record, through the feed worker, matchable on the second server.
    feed_latency = []
    with feedserver.feed_server() as (feed_url, state):
        hashwall(
            "feeds", "add", "--name", "stopncii", "--kind", "stopncii", "--url", feed_url,
            "--bank", "feed", "--interval", "1", env=env,
        )  # fmt: skip
        worker = subprocess.Popen(
            [sys.executable, "-m", "app.cli", "feeds", "sync", "--follow"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            for number in range(args.samples):
                value = random_hex(rng)
                state.stopncii_record(value, timestamp=10_000 + number)
                feed_latency.append(until_blocked(second.base, key, value, limit=60))
                time.sleep(0.05)
        finally:
            worker.terminate()
            worker.wait(timeout=30)
    first.stop()
    second.stop()
    shutil.rmtree(workdir, ignore_errors=True)

    steady = rss[len(rss) // 5 :] or rss

    def p50_p99(seconds: list[float]) -> str:
        return f"{percentile(seconds, 50) * 1000:.0f} / {percentile(seconds, 99) * 1000:.0f} ms"

    rows = [
        [
            f"import {args.n:,} pdq hashes (JSONL) until the last is matchable in a running server",
            f"{matchable:.1f} s",
        ],
        ["the import alone", f"{import_seconds:.1f} s ({args.n / import_seconds:,.0f} hashes/s)"],
        [
            "importer memory (RSS) after the first fifth / at the end / peak",
            f"{steady[0]:.0f} / {rss[-1]:.0f} / {max(rss):.0f} MiB" if rss else "n/a",
        ],
        ["the running server's memory (RSS) with the bank loaded", f"{server_rss:.0f} MiB"],
        ["a second server: restart to ready, from the database", f"{from_database:.1f} s"],
        ["a second server: restart to ready, from an index snapshot", f"{from_snapshot:.1f} s"],
        [
            "hash added through one server's API until matchable in the other, p50 / p99",
            p50_p99(api_latency),
        ],
        [
            "new StopNCII record until matchable in a server (worker polling every 1 s), p50 / p99",
            p50_p99(feed_latency),
        ],
    ]
    report = (
        f"## Bulk ingest and the live index: {args.n:,} pdq hashes on PostgreSQL\n\n"
        "Real processes on this machine: `hashwall serve` (two of them), `hashwall hashes "
        "import`, `hashwall feeds sync --follow` against a local StopNCII-compatible server; "
        f"{args.samples} propagation samples each.\n\n" + table(["measure", "result"], rows)
    )
    print(report)
    write_section(f"ingest_bench_{args.n}", report, args.results)


if __name__ == "__main__":
    main()
