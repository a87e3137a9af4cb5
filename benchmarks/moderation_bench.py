"""What the review queue and the flood counters cost a lookup: single-hash lookups with
both on against the same run with both off, alternating servers in one run.

Each round starts `hashwall serve` twice on one database, once with
`HASHWALL_REVIEW_QUEUE` and `HASHWALL_QUARANTINE` on and once with both off, and drives
it with wrk (16 connections, then 1). Every lookup names a content id; a third are near
copies in the review band (each opens or merges into a queue item), a third near copies
within the match distance (blocks, counted), a third misses. With counting on, every
matched hash is counted; the quarantine floor is raised out of reach so that the run
measures the counting and the queue writes, not verdicts that quarantine changed.

    python benchmarks/moderation_bench.py [--bank-size N] [--duration S] [--rounds R]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

import httpx
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.api_bench import near, random_codes, run_wrk
from benchmarks.common import RESULTS, table, write_section
from benchmarks.servers import Server

#: (name, environment) of the two configurations compared.
CONFIGS = (
    ("on", {"HASHWALL_REVIEW_QUEUE": "true", "HASHWALL_QUARANTINE": "true"}),
    ("off", {"HASHWALL_REVIEW_QUEUE": "false", "HASHWALL_QUARANTINE": "false"}),
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bank-size", type=int, default=100_000)
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per wrk run")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--port", type=int, default=8766)
    parser.add_argument("--results", type=Path, default=RESULTS)
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is not installed: run benchmarks/setup.sh first")

    from app.auth import create_key
    from app.db import make_engine, make_session_factory
    from app.migrate import upgrade

    workdir = Path(tempfile.mkdtemp(prefix="hashwall-modbench-"))
    url = f"sqlite:///{workdir / 'bench.db'}"
    engine = make_engine(url)
    upgrade(engine)
    with make_session_factory(engine)() as session, session.begin():
        admin = create_key(session, "bench-admin", ["admin"])
        pipeline = create_key(session, "bench-pipeline", ["match"])
    engine.dispose()
    base_env = {
        **os.environ,
        "HASHWALL_DATABASE_URL": url,
        "HASHWALL_QUARANTINE_FLOOR": str(10**9),
        "HASHWALL_HASH_PROCESSES": "0",
    }
    log = workdir / "server.log"
    server = Server(base_env, args.port, log)
    headers = {"Authorization": f"Bearer {admin}"}
    httpx.post(
        server.base + "/v1/banks", json={"name": "bench", "action": "block"}, headers=headers
    ).raise_for_status()
    codes = random_codes(args.bank_size, 1)
    with httpx.Client(base_url=server.base, headers=headers, timeout=120) as client:
        for chunk in np.array_split(codes, max(1, len(codes) // 1000)):
            items = [{"signal_type": "pdq", "value": c.tobytes().hex()} for c in chunk]
            client.post("/v1/banks/bench/hashes", json={"items": items}).raise_for_status()
    server.stop()

    queries = np.concatenate([near(codes[:300], 40, 2), near(codes[300:600], 8, 3)])
    queries = np.concatenate([queries, random_codes(300, 4)])
    bodies = [
        json.dumps(
            {"items": [{"signal_type": "pdq", "value": c.tobytes().hex(), "content_id": f"c{n}"}]}
        ).encode()
        for n, c in enumerate(queries)
    ]
    measured: dict[str, dict[str, list[float]]] = {
        name: {"rps16": [], "p50": [], "rps1": [], "p50_1": []} for name, _ in CONFIGS
    }
    for round_number in range(args.rounds):
        # Alternate which goes first, so a drift in the machine's speed favours neither.
        order = CONFIGS if round_number % 2 == 0 else CONFIGS[::-1]
        for name, extra in order:
            server = Server({**base_env, **extra}, args.port, log)
            many = run_wrk(server.base, pipeline, bodies, workdir, args.duration, 16)
            one = run_wrk(server.base, pipeline, bodies, workdir, args.duration, 1)
            server.stop()
            measured[name]["rps16"].append(many["rps"])
            measured[name]["p50"].append(many["p50"])
            measured[name]["rps1"].append(one["rps"])
            measured[name]["p50_1"].append(one["p50"])
    with make_session_factory(make_engine(url))() as session:
        from sqlalchemy import func, select

        from app.models import HashMatchCount, ReviewItem

        items = session.scalar(select(func.count()).select_from(ReviewItem))
        counted = session.scalar(select(func.sum(HashMatchCount.count)))
    shutil.rmtree(workdir, ignore_errors=True)

    def cell(name: str, measure: str, fmt: str) -> str:
        values = measured[name][measure]
        return ", ".join(fmt.format(v) for v in values)

    on16, off16 = (statistics.median(measured[n]["rps16"]) for n in ("on", "off"))
    on1, off1 = (statistics.median(measured[n]["rps1"]) for n in ("on", "off"))
    rows = [
        [
            "single lookups, 16 connections (requests/s)",
            cell("on", "rps16", "{:,.0f}"),
            cell("off", "rps16", "{:,.0f}"),
            f"{on16 / off16:.3f}",
        ],
        [
            "p50 ms, 16 connections",
            cell("on", "p50", "{:.2f}"),
            cell("off", "p50", "{:.2f}"),
            "",
        ],
        [
            "single lookups, 1 connection (requests/s)",
            cell("on", "rps1", "{:,.0f}"),
            cell("off", "rps1", "{:,.0f}"),
            f"{on1 / off1:.3f}",
        ],
        [
            "p50 ms, 1 connection",
            cell("on", "p50_1", "{:.2f}"),
            cell("off", "p50_1", "{:.2f}"),
            "",
        ],
    ]
    report = (
        f"## Review queue and flood counters: their cost to a lookup ({args.bank_size:,}-hash "
        "bank, SQLite)\n\n"
        f"`hashwall serve` with the queue and the counters on, against the same server with "
        f"both off, {args.rounds} rounds alternating, {args.duration:.0f} s of wrk each; a "
        "third of the lookups in the review band (queued), a third blocks (counted), a third "
        f"misses, every one with a content id. The runs opened {items:,} queue items and "
        f"counted {counted or 0:,} matches. Ratio: median on / median off (target: at least "
        "0.95).\n\n" + table(["measure", "on (each round)", "off (each round)", "ratio"], rows)
    )
    print(report)
    name = "moderation_bench" + ("" if args.bank_size == 100_000 else f"_n{args.bank_size}")
    write_section(name, report, args.results)


if __name__ == "__main__":
    main()
