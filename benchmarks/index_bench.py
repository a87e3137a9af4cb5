"""Index backends and peers side by side on the same codes and queries: exact radius search.

Backends: hashwall's `mih` (multi-index hashing, C kernels) and `flat` (faiss
IndexBinaryFlat with id mapping); peers: faiss `IndexBinaryFlat` used directly, and
python-threatexchange's `PDQIndex` (faiss multi-hash; `pip install -e '.[bench]'`), which
only searches at its fixed threshold, 31. Recall is measured against numpy brute force.
Single queries are timed one by one; batches are 1,000 queries in one call, with every
backend free to use both cores (faiss: its OpenMP threads; mih: its thread pool).

Data (`--data`): `uniform` random codes; `clustered`, near-duplicates of a few originals
(each within 0-40 bits of its original, as banks hold many variants of one image); `real`,
pdq hashes of the Debian image corpus and of edited copies of each image (JPEG, resizing,
cropping, captions), padded with uniform codes to `--n`. Queries are near-copies of stored
codes (8-24 bits away) and codes from outside the bank, half and half.

    python benchmarks/index_bench.py [--n 1000000] [--data uniform] [--queries 2000]

The last line is `speedup_vs_faiss_flat=<x> recall=<r>` for `mih` at radius 31 (single
queries, p50 against p50).
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import gc
import re
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import faiss
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import (
    CLIPART_DIR,
    PHOTO_DIRS,
    RESULTS,
    image_files,
    percentile,
    table,
    write_section,
)
from index import FlatIndex, MIHIndex
from index.base import Hits, sort_hits

BATCH = 1000
CACHE = Path.home() / ".cache" / "hashwall-bench"


class RawFaissFlat:
    """faiss IndexBinaryFlat as peers use it: positions are the ids, no removal."""

    name = "faiss IndexBinaryFlat"

    def __init__(self, codes: np.ndarray) -> None:
        self.index = faiss.IndexBinaryFlat(codes.shape[1] * 8)
        self.index.add(codes)

    def supports(self, radius: int) -> bool:
        return True

    def search(self, codes: np.ndarray, radius: int) -> list[Hits]:
        lims, distances, ids = self.index.range_search(codes, radius + 1)
        return [
            sort_hits(ids[lims[i] : lims[i + 1]], distances[lims[i] : lims[i + 1]])
            for i in range(len(codes))
        ]


class ThreatExchangePDQ:
    """python-threatexchange's PDQIndex, the index HMA uses; hex strings in and out."""

    name = "threatexchange PDQIndex"

    def __init__(self, codes: np.ndarray) -> None:
        from threatexchange.signal_type.pdq.pdq_index import PDQIndex

        self.index = PDQIndex((code.tobytes().hex(), i) for i, code in enumerate(codes))
        self.radius = PDQIndex.get_match_threshold()

    def supports(self, radius: int) -> bool:
        return radius == self.radius

    def search(self, codes: np.ndarray, radius: int) -> list[Hits]:
        hexes = [code.tobytes().hex() for code in codes]
        if len(hexes) == 1:
            found = {hexes[0]: [(m.metadata, 0, m.similarity_info.distance) for m in
                                self.index.query(hexes[0])]}  # fmt: skip
        else:
            found = self.index.index.search_with_distance_in_result(hexes, radius)
        return [
            sort_hits(
                np.array([int(i) for i, _, _ in found[h]], dtype=np.int64),
                np.array([int(d) for _, _, d in found[h]], dtype=np.int32),
            )
            for h in hexes
        ]


class Hashwall:
    """A hashwall index behind the benchmark's interface."""

    def __init__(self, name: str, index: FlatIndex | MIHIndex, codes: np.ndarray) -> None:
        self.name, self.index = name, index
        ids = np.arange(len(codes), dtype=np.int64)
        for lo in range(0, len(codes), 100_000):
            index.add(ids[lo : lo + 100_000], codes[lo : lo + 100_000])
        if isinstance(index, MIHIndex):
            index.flush()

    def supports(self, radius: int) -> bool:
        return True

    def search(self, codes: np.ndarray, radius: int) -> list[Hits]:
        return self.index.search(codes, radius)


def threatexchange_installed() -> bool:
    try:
        import threatexchange  # noqa: F401
    except ImportError:
        return False
    return True


def rss_mib() -> float:
    status = Path("/proc/self/status").read_text()
    return int(re.search(r"VmRSS:\s+(\d+)", status).group(1)) / 1024  # type: ignore[union-attr]


def settled_rss_mib() -> float:
    """RSS once freed memory is handed back to the system (glibc keeps it until trimmed),
    so a backend's growth is what it holds: not the previous backend's leftovers, nor the
    garbage of its own build or of this harness."""
    gc.collect()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    return rss_mib()


def brute(codes: np.ndarray, query: np.ndarray, radius: int) -> set[int]:
    words, q = codes.view(np.uint64), query.view(np.uint64)
    distances = np.bitwise_count(words ^ q).sum(axis=1)
    return set(np.flatnonzero(distances <= radius).tolist())


def flipped(rng: np.random.Generator, codes: np.ndarray, low: int, high: int) -> np.ndarray:
    """Each code with a random number of bits in [low, high] flipped (positions may repeat,
    so the distance is at most that)."""
    bits = np.unpackbits(codes, axis=1)
    counts = rng.integers(low, high + 1, len(codes))
    for row, count in zip(bits, counts, strict=True):
        row[rng.integers(0, bits.shape[1], count)] ^= 1
    return np.packbits(bits, axis=1)


def uniform(rng: np.random.Generator, n: int) -> np.ndarray:
    return rng.integers(0, 256, (n, 32), dtype=np.uint8)


def clustered(rng: np.random.Generator, n: int) -> np.ndarray:
    """Variants of n/20 originals, each 0-40 bits from its original."""
    originals = uniform(rng, max(1, n // 20))
    out = np.empty((n, 32), dtype=np.uint8)
    for lo in range(0, n, 100_000):
        hi = min(n, lo + 100_000)
        base = originals[rng.integers(0, len(originals), hi - lo)]
        share = rng.uniform(0, 40 / 256, (hi - lo, 1))
        mask = np.packbits(rng.random((hi - lo, 256)) < share, axis=1)
        out[lo:hi] = base ^ mask
    return out


def real_hashes(images: int) -> tuple[np.ndarray, np.ndarray]:
    """pdq of the first `images` corpus images (of about 7,000) and of four edited copies
    of each: (codes, image number). Hashing the whole corpus takes 7 minutes on a fresh
    machine, which a tiny run (CI's) need not spend."""
    files = (image_files(PHOTO_DIRS) + image_files([CLIPART_DIR], min_bytes=0))[:images]
    cache = CACHE / f"real-pdq-{len(files)}.npz"
    if cache.exists():
        with np.load(cache) as data:
            return data["codes"], data["image"]
    import cv2

    from matcher.pdq import pdq_from_rgb

    codes, image = [], []
    for number, path in enumerate(files):
        bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if bgr is None or min(bgr.shape[:2]) < 32:
            continue
        rgb = np.ascontiguousarray(bgr[:, :, ::-1])
        h, w = rgb.shape[:2]
        band = rgb.copy()
        band[: h // 7] = 255
        ok, jpeg = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, 40])
        edits = [
            rgb,
            cv2.imdecode(jpeg, cv2.IMREAD_COLOR)[:, :, ::-1] if ok else rgb,
            cv2.resize(rgb, (max(16, w // 3), max(16, h // 3)), interpolation=cv2.INTER_AREA),
            rgb[h // 20 : h - h // 20, w // 20 : w - w // 20],
            band,
        ]
        for edit in edits:
            code, _quality = pdq_from_rgb(np.ascontiguousarray(edit))
            codes.append(np.frombuffer(code, dtype=np.uint8))
            image.append(number)
    result = np.array(codes, dtype=np.uint8), np.array(image, dtype=np.int64)
    CACHE.mkdir(parents=True, exist_ok=True)
    np.savez(cache, codes=result[0], image=result[1])
    return result


def dataset(kind: str, n: int, queries: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, str]:
    """Stored codes, queries, and a sentence saying what they are."""
    rng = np.random.default_rng(seed)
    if kind == "real":
        # Five hashes an image, a tenth of the images held out: enough images to fill n.
        real, image = real_hashes(n * 10 // 45 + 2)
        # Hold out a tenth of the images: their hashes are the "not in the bank" queries.
        held_out = np.isin(image, rng.choice(image.max() + 1, image.max() // 10, replace=False))
        bank_real, outside = real[~held_out], real[held_out]
        filler = uniform(rng, max(0, n - len(bank_real)))
        codes = np.concatenate([bank_real, filler])[:n] if n else bank_real
        rng.shuffle(codes)
        near = flipped(rng, bank_real[rng.integers(0, len(bank_real), queries // 2)], 0, 16)
        far = outside[rng.integers(0, len(outside), queries - len(near))]
        about = (
            f"{min(len(bank_real), len(codes)):,} real pdq hashes ({image.max() + 1:,} corpus "
            "images and four edits of each: JPEG q40, a third of the size, a 5% crop, a "
            f"caption band), padded with uniform codes; queries: edited stored hashes and "
            f"hashes of {len(np.unique(image[held_out])):,} held-out images"
        )
    else:
        codes = (clustered if kind == "clustered" else uniform)(rng, n)
        near = flipped(rng, codes[rng.integers(0, n, queries // 2)], 8, 24)
        far = uniform(rng, queries - len(near))
        about = {
            "uniform": "uniform random codes",
            "clustered": f"clustered codes ({max(1, n // 20):,} originals, variants within "
            "0-40 bits)",
        }[kind] + "; queries: stored codes 8-24 bits away and uniform random codes"
    query_codes = np.concatenate([near, far])
    rng.shuffle(query_codes)
    return codes, query_codes, about


def measure(
    make: Callable[[], object],
    queries: np.ndarray,
    radii: list[int],
    truth: dict[int, list[set[int]]],
    recall_queries: int,
) -> tuple[object, dict[str, object]]:
    """Build a backend and time it at each radius."""
    before = settled_rss_mib()
    start = time.perf_counter()
    backend = make()
    figures: dict[str, object] = {"build": time.perf_counter() - start}
    figures["rss_mib"] = settled_rss_mib() - before
    for radius in radii:
        if not backend.supports(radius):  # type: ignore[attr-defined]
            continue
        found = [set(h.ids.tolist()) for h in backend.search(queries[:recall_queries], radius)]  # type: ignore[attr-defined]
        hits = sum(len(f & t) for f, t in zip(found, truth[radius], strict=True))
        recall = hits / max(1, sum(len(t) for t in truth[radius]))
        exact = all(f == t for f, t in zip(found, truth[radius], strict=True))
        times = []
        for q in queries:
            t = time.perf_counter()
            backend.search(q[None, :], radius)  # type: ignore[attr-defined]
            times.append(time.perf_counter() - t)
        faiss.omp_set_num_threads(2)
        start = time.perf_counter()
        for lo in range(0, len(queries), BATCH):
            backend.search(queries[lo : lo + BATCH], radius)  # type: ignore[attr-defined]
        faiss.omp_set_num_threads(1)
        figures[radius] = {
            "p50": percentile(times, 50) * 1000,
            "p99": percentile(times, 99) * 1000,
            "batch_qps": len(queries) / (time.perf_counter() - start),
            "recall": recall,
            "exact": exact,
        }
    return backend, figures


def snapshot_figures(index: MIHIndex, queries: np.ndarray, radius: int) -> dict[str, float]:
    """Save and load a snapshot; time both and the first queries after loading."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "index.snapshot"
        start = time.perf_counter()
        index.save(path)
        saved = time.perf_counter() - start
        start = time.perf_counter()
        loaded = MIHIndex.load(path)
        load = time.perf_counter() - start
        times = []
        for q in queries[:500]:
            t = time.perf_counter()
            loaded.search(q[None, :], radius)
            times.append(time.perf_counter() - t)
        size = path.stat().st_size
        loaded.close()
        del loaded
    return {"save": saved, "load": load, "p50_after_load": percentile(times, 50) * 1000,
            "mib": size / 2**20}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--data", choices=["uniform", "clustered", "real"], default="uniform")
    parser.add_argument("--queries", type=int, default=2000)
    parser.add_argument("--recall-queries", type=int, default=200)
    parser.add_argument("--radius", type=int, action="append", help="default: 31 and 47")
    parser.add_argument("--skip", action="append", default=[], help="backend names to skip")
    parser.add_argument("--results", type=Path, default=RESULTS)
    args = parser.parse_args()
    radii = args.radius or [31, 47]
    faiss.omp_set_num_threads(1)
    codes, queries, about = dataset(args.data, args.n, args.queries)
    truth = {r: [brute(codes, q, r) for q in queries[: args.recall_queries]] for r in radii}

    makers: list[tuple[str, Callable[[], object]]] = [
        ("faiss IndexBinaryFlat", lambda: RawFaissFlat(codes)),
        ("threatexchange PDQIndex", lambda: ThreatExchangePDQ(codes)),
        ("hashwall flat", lambda: Hashwall("hashwall flat", FlatIndex(32), codes)),
        ("hashwall mih", lambda: Hashwall("hashwall mih", MIHIndex(32, radii[0]), codes)),
    ]
    if not threatexchange_installed():
        print("python-threatexchange is not installed (pip install -e '.[bench]'): skipped")
        args.skip.append("threatexchange PDQIndex")
    results: dict[str, dict[str, object]] = {}
    snapshot: dict[str, float] = {}
    for name, make in makers:
        if name in args.skip:
            continue
        backend, figures = measure(make, queries, radii, truth, args.recall_queries)
        results[name] = figures
        if isinstance(backend, Hashwall) and isinstance(backend.index, MIHIndex):
            figures["array_bytes"] = backend.index.nbytes
            snapshot = snapshot_figures(backend.index, queries, radii[0])
            backend.index.close()
        print(name, figures, flush=True)
        del backend
        gc.collect()

    rows = []
    baseline = results.get("faiss IndexBinaryFlat", {})
    for name, figures in results.items():
        for radius in radii:
            f = figures.get(radius)
            if not isinstance(f, dict):
                continue
            base = baseline.get(radius)
            speedup = base["p50"] / f["p50"] if isinstance(base, dict) else float("nan")  # type: ignore[index]
            rows.append(
                [
                    name,
                    radius,
                    f"{figures['build']:.1f}",
                    f"{float(figures['rss_mib']) * 2**20 / len(codes):.0f}",  # type: ignore[arg-type]
                    f"{f['p50']:.3f}",
                    f"{f['p99']:.3f}",
                    f"{f['batch_qps']:,.0f}",
                    f"{f['recall']:.4f}" + ("" if f["exact"] else " (not exact)"),
                    f"{speedup:.1f}x",
                ]
            )
    report = (
        f"## Index backends: {len(codes):,} codes, {args.data}, mih laid out for radius "
        f"{radii[0]}\n\n"
        f"{about}. {len(queries):,} queries; recall against brute force on "
        f"{args.recall_queries} of them. Single queries on one thread; batches of {BATCH} "
        "on both cores (faiss: two OpenMP threads; mih: its thread pool). Memory is the "
        "growth of the process's RSS from before the build to after it, each time once freed "
        "memory is returned to the system. The service searches at its widest "
        "review distance (47 by default); 31 is the block distance and the only radius "
        "PDQIndex searches at.\n\n"
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
                "p50 speed-up vs faiss flat",
            ],
            rows,
        )
    )
    if snapshot:
        mih_bytes = int(results["hashwall mih"]["array_bytes"])  # type: ignore[call-overload]
        report += (
            f"\n\nmih arrays (codes, ids, flags, tables): {mih_bytes / len(codes):.1f} "
            "bytes per hash."
        )
        report += (
            f"\n\nmih snapshot: {snapshot['mib']:,.0f} MiB, saved in {snapshot['save']:.2f} s, "
            f"loaded (memory-mapped) in {snapshot['load']:.2f} s; single-query p50 over the "
            f"first 500 queries after loading: {snapshot['p50_after_load']:.3f} ms."
        )
    print(report)
    section = f"index_bench_{args.data}_{args.n}" + (f"_r{radii[0]}" if radii[0] != 31 else "")
    write_section(section, report, args.results)
    mih = next(r for r in rows if r[0] == "hashwall mih" and r[1] == 31)
    print(f"speedup_vs_faiss_flat={mih[-1].rstrip('x')} recall={mih[7].split()[0]}")


if __name__ == "__main__":
    main()
