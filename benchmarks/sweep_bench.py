"""The takedown sweep: a ledger of N recorded uploads (random pdq hashes), of which 1,000
are near copies (within 20 bits) of hashes that arrive later in one feed page of 10,000.
Measures how long after the page's commit the worker has found every copy and delivered
its `sweep.matched` webhook, checks the hits against a brute-force scan, and times what a
platform without hashwall would do: a faiss `IndexBinaryFlat` scan of the ledger for the
same 10,000 queries, in the same run. Reports the worker's memory.

    python benchmarks/sweep_bench.py [--ledger N] [--page 10000] [--copies 1000]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.api_bench import near, random_codes
from benchmarks.common import RESULTS, table, write_section

RADIUS = 47
INSERT_CHUNK = 100_000


def rss_mib() -> float:
    """This process's resident memory."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ledger", type=int, default=10_000_000, help="recorded uploads")
    parser.add_argument("--page", type=int, default=10_000, help="hashes arriving")
    parser.add_argument("--copies", type=int, default=1_000, help="near copies among them")
    parser.add_argument("--results", type=Path, default=RESULTS)
    args = parser.parse_args()
    assert args.copies <= args.page <= args.ledger

    import faiss
    from sqlalchemy import select

    from app.config import Settings
    from app.db import make_engine, make_session_factory
    from app.feeds.runner import FeedRunner
    from app.ledger.sweep import Sweeper
    from app.migrate import upgrade
    from app.models import SweepHit, SweepState, utcnow
    from app.policy import Action
    from app.store import banks as bank_store
    from app.store import changes
    from app.store import hashes as hash_store
    from app.webhooks import store as webhooks
    from app.worker.run import Worker
    from matcher.signals import default_registry
    from tests.webhookserver import webhook_receiver

    workdir = Path(tempfile.mkdtemp(prefix="hashwall-sweepbench-"))
    url = f"sqlite:///{workdir / 'bench.db'}"
    engine = make_engine(url)
    upgrade(engine)
    sessions = make_session_factory(engine)
    settings = Settings(database_url=url, ledger_days=90, log_json=False, log_level="WARNING")
    registry = default_registry()

    ledger = random_codes(args.ledger, seed=1)
    arriving = random_codes(args.page, seed=2)
    rng = np.random.default_rng(3)
    copied = rng.choice(args.page, args.copies, replace=False)
    placed = rng.choice(args.ledger, args.copies, replace=False)
    distances = rng.integers(0, 21, args.copies)
    for bits in np.unique(distances):
        chosen = distances == bits
        ledger[placed[chosen]] = near(arriving[copied[chosen]], int(bits), seed=int(bits))

    with sessions() as session, session.begin():
        bank = bank_store.create_bank(session, registry, "ncii", Action.BLOCK)
        seen = changes.head(session)
    started = time.perf_counter()
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        now = "2026-12-01 00:00:00.000000"
        for start in range(0, args.ledger, INSERT_CHUNK):
            chunk = ledger[start : start + INSERT_CHUNK]
            cursor.executemany(
                "INSERT INTO ledger (content_id, recorded_at, signal_type, value, quality, "
                "candidate, detailed, seen_seq, matched) VALUES (?, ?, 'pdq', ?, 100, NULL, "
                "NULL, ?, NULL)",
                (
                    (f"c{start + n}", now, code.tobytes().hex(), seen)
                    for n, code in enumerate(chunk)
                ),
            )
        raw.commit()
    finally:
        raw.close()
    recorded_s = time.perf_counter() - started
    expected = {f"c{n}" for n in placed.tolist()}

    with webhook_receiver() as receiver, httpx.Client() as http:
        with sessions() as session, session.begin():
            webhooks.create(session, receiver.url, ["sweep.matched"], "")
        before = rss_mib()
        sweeper = Sweeper(settings, engine, sessions, registry)
        worker = Worker(
            settings,
            sessions,
            FeedRunner(sessions, lambda feed: None),  # type: ignore[arg-type,return-value]
            http,
            owner="bench",
            sweeper=sweeper,
        )
        started = time.perf_counter()
        worker.run_once()  # loads the indexes and takes in the ledger
        load_s = time.perf_counter() - started
        memory = rss_mib() - before

        with sessions() as session, session.begin():
            hash_store.add_hashes(
                session,
                bank,
                [hash_store.NewHash("pdq", code.tobytes().hex()) for code in arriving],
                "bench",
            )
        committed, committed_at = time.monotonic(), utcnow()
        review_s = None
        while True:
            done = worker.run_once()
            with sessions() as session:
                state = session.get(SweepState, 1)
                swept_all = state is not None and state.review_seq >= state.change_seq
                rows = session.execute(select(SweepHit.content_id, SweepHit.found_at))
                found = {content_id: at for content_id, at in rows}
            delivered = len(receiver.received) >= len(expected)
            if expected <= found.keys() and delivered and swept_all and done.sweep is not None:
                review_s = time.monotonic() - committed
                break
            if time.monotonic() - committed > 3600:
                break
        hits = set(found)
        found_s = (
            (max(found[c] for c in expected) - committed_at).total_seconds()
            if expected <= hits
            else None
        )
        delivered_s = (
            max(r.at for r in receiver.received) - committed
            if len(receiver.received) >= len(expected)
            else None
        )
        worker.close()

    # What a platform without hashwall does: scan the whole ledger for each new hash.
    flat = faiss.IndexBinaryFlat(256)
    flat.add(ledger)
    started = time.perf_counter()
    _, distances_found, labels = flat.range_search(arriving, RADIUS + 1)
    faiss_s = time.perf_counter() - started
    brute = {f"c{n}" for n in labels.tolist()}
    del distances_found
    false_hits = len(hits - brute)
    missed = len(brute - hits)

    rows = [
        ["ledger (recorded uploads)", f"{args.ledger:,}", ""],
        [
            "new hashes in one feed page / near copies among the uploads",
            f"{args.page:,} / {args.copies:,}",
            "",
        ],
        ["ledger written (bare sqlite3 executemany)", f"{recorded_s:.1f} s", ""],
        ["worker start: bank and ledger indexes loaded", f"{load_s:.1f} s", ""],
        ["worker memory for the indexes (RSS growth)", f"{memory:,.0f} MiB", ""],
        ["page commit -> every near copy found (match pass)", fmt(found_s), "<= 10 s"],
        ["page commit -> every `sweep.matched` webhook delivered", fmt(delivered_s), "<= 10 s"],
        ["page commit -> review band (to 47 bits) swept too, all rounds done", fmt(review_s), ""],
        [
            f"faiss IndexBinaryFlat range scan, the same {args.page:,} queries",
            f"{faiss_s:.1f} s",
            "",
        ],
        [
            "hits found / against the brute-force scan: missed, false",
            f"{len(hits):,} / {missed}, {false_hits}",
            "0, 0",
        ],
    ]
    met = (
        found_s is not None
        and delivered_s is not None
        and delivered_s <= 10
        and missed == 0
        and false_hits == 0
    )
    body = (
        f"## Takedown sweep: {args.page:,} new hashes against a {args.ledger:,}-upload ledger\n\n"
        + table(["measure", "hashwall", "target"], rows)
        + f"\n\nTarget {'met' if met else 'NOT met'}. Copies at 0-20 bits; one worker "
        f"process (`Worker.run_once` rounds, SQLite), {os.cpu_count()} cores."
    )
    print(body)
    write_section("sweep", body, args.results)


def fmt(seconds: float | None) -> str:
    return "not reached" if seconds is None else f"{seconds:.2f} s"


if __name__ == "__main__":
    main()
