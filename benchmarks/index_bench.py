"""Index backends side by side on the same codes and queries: exact radius search.

Backends: hashwall's `flat` (faiss IndexBinaryFlat with id mapping) and `mih` (multi-index
hashing, C kernels), and faiss `IndexBinaryFlat` used directly. Recall is measured
against numpy brute force. Queries are near-copies of stored codes (8 bits flipped) and
random codes, half and half. One faiss OpenMP thread, as the service runs it.

    python benchmarks/index_bench.py [--n 1000000] [--queries 2000] [--results PATH]

The last line is `speedup_vs_faiss_flat=<x> recall=<r>` for `mih` at radius 31.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path

import faiss
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import RESULTS, percentile, table, write_section
from index import FlatIndex, MIHIndex
from index.base import Hits, sort_hits

RADII = (31, 47)
BATCH = 1000


class RawFaissFlat:
    """faiss IndexBinaryFlat as peers use it: positions are the ids, no removal."""

    def __init__(self, code_bytes: int) -> None:
        self.index = faiss.IndexBinaryFlat(code_bytes * 8)

    def add(self, ids: np.ndarray, codes: np.ndarray) -> None:
        self.index.add(codes)

    def search(self, codes: np.ndarray, radius: int) -> list[Hits]:
        lims, distances, ids = self.index.range_search(codes, radius + 1)
        return [
            sort_hits(ids[lims[i] : lims[i + 1]], distances[lims[i] : lims[i + 1]])
            for i in range(len(codes))
        ]


def rss_mib() -> float:
    status = Path("/proc/self/status").read_text()
    return int(re.search(r"VmRSS:\s+(\d+)", status).group(1)) / 1024  # type: ignore[union-attr]


def brute(codes: np.ndarray, query: np.ndarray, radius: int) -> set[int]:
    words, q = codes.view(np.uint64), query.view(np.uint64)
    distances = np.bitwise_count(words ^ q).sum(axis=1)
    return set(np.flatnonzero(distances <= radius).tolist())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=2000)
    parser.add_argument("--recall-queries", type=int, default=200)
    parser.add_argument("--results", type=Path, default=RESULTS)
    args = parser.parse_args()
    faiss.omp_set_num_threads(1)
    rng = np.random.default_rng(0)
    codes = rng.integers(0, 256, (args.n, 32), dtype=np.uint8)
    ids = np.arange(args.n, dtype=np.int64)
    near = codes[rng.integers(0, args.n, args.queries // 2)].copy()
    bits = np.unpackbits(near, axis=1)
    for row in bits:
        row[rng.choice(256, 8, replace=False)] ^= 1
    queries = np.concatenate(
        [
            np.packbits(bits, axis=1),
            rng.integers(0, 256, (args.queries - len(near), 32), dtype=np.uint8),
        ]
    )
    rng.shuffle(queries)
    truth = {r: [brute(codes, q, r) for q in queries[: args.recall_queries]] for r in RADII}

    rows, single_p50 = [], {}
    for name, make in (
        ("faiss IndexBinaryFlat", RawFaissFlat),
        ("hashwall flat", FlatIndex),
        ("hashwall mih", MIHIndex),
    ):
        before = rss_mib()
        start = time.perf_counter()
        index = make(32)
        for lo in range(0, args.n, 100_000):
            index.add(ids[lo : lo + 100_000], codes[lo : lo + 100_000])
        build = time.perf_counter() - start
        per_hash = (rss_mib() - before) * 1024 * 1024 / args.n
        for radius in RADII:
            found = [
                set(h.ids.tolist()) for h in index.search(queries[: args.recall_queries], radius)
            ]
            hits = sum(len(f & t) for f, t in zip(found, truth[radius], strict=True))
            recall = hits / max(1, sum(len(t) for t in truth[radius]))
            exact = all(f == t for f, t in zip(found, truth[radius], strict=True))
            times = []
            for q in queries:
                t = time.perf_counter()
                index.search(q[None, :], radius)
                times.append(time.perf_counter() - t)
            start = time.perf_counter()
            for lo in range(0, len(queries), BATCH):
                index.search(queries[lo : lo + BATCH], radius)
            batch_qps = len(queries) / (time.perf_counter() - start)
            p50 = percentile(times, 50) * 1000
            single_p50[(name, radius)] = p50
            rows.append(
                [
                    name,
                    radius,
                    f"{build:.1f}",
                    f"{per_hash:.0f}",
                    f"{p50:.3f}",
                    f"{percentile(times, 99) * 1000:.3f}",
                    f"{batch_qps:,.0f}",
                    f"{recall:.4f}" + ("" if exact else " (not exact)"),
                ]
            )
        del index
    for row in rows:
        row.append(
            f"{single_p50[('faiss IndexBinaryFlat', row[1])] / single_p50[(row[0], row[1])]:.2f}x"
        )
    report = (
        f"## Index backends: {args.n:,} uniform random pdq codes\n\n"
        f"{args.queries:,} queries (half near-copies, half random), one thread; recall against "
        f"brute force on {args.recall_queries} of them. The service searches at its widest "
        "review distance (47 by default); 31 is the block distance.\n\n"
        + table(
            [
                "backend",
                "radius",
                "build s",
                "bytes/hash",
                "p50 ms",
                "p99 ms",
                f"batch of {BATCH} q/s",
                "recall",
                "speed-up vs faiss flat",
            ],
            rows,
        )
    )
    print(report)
    write_section("index_bench", report, args.results)
    mih = next(r for r in rows if r[0] == "hashwall mih" and r[1] == 31)
    print(f"speedup_vs_faiss_flat={mih[-1].rstrip('x')} recall={mih[7].split()[0]}")


if __name__ == "__main__":
    main()
