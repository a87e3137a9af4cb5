"""Every index backend returns exactly what brute force returns: same ids, same distances."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from index import BruteForceIndex, ExactIndex, FlatIndex, _mih, snapshot
from index.base import Hits
from index.mih import (
    BATCH_SCAN,
    MAX_BYTES_PER_CODE,
    MAX_WIDTH,
    MIN_WIDTH,
    SCAN,
    SCAN_COST,
    TABLES,
    Layout,
    MIHIndex,
    Part,
    candidate_layouts,
    choose_layout,
)
from index.snapshot import SnapshotError


class ProbingMIH(MIHIndex):
    """MIH that merges its tail after a few adds, in the adding thread, and probes its
    tables (never falling back to a scan) whenever that stays cheap enough for a test, so
    most radii go through the multi-index path."""

    def __init__(self, code_bytes: int, radius: int | None = None, **options: object) -> None:
        options = {"min_tail": 16, "background": False} | options
        super().__init__(code_bytes, radius, **options)  # type: ignore[arg-type]

    def _mode(self, part: Part, radius: int, queries: int) -> int:
        return TABLES if part.tables and max(part.layout.reaches(radius)) <= 3 else SCAN


class WideMIH(ProbingMIH):
    """Substrings of 21-22 bits, as at millions of codes: buckets shared by several values."""

    def __init__(self, code_bytes: int, radius: int | None = None, **options: object) -> None:
        super().__init__(code_bytes, radius, tables=code_bytes * 8 // 21, **options)


class NarrowMIH(ProbingMIH):
    """Substrings of 5-6 bits: a whole table fits one word of the presence bitmap."""

    def __init__(self, code_bytes: int, radius: int | None = None, **options: object) -> None:
        super().__init__(code_bytes, radius, tables=code_bytes * 8 // 5, **options)


class UnevenMIH(ProbingMIH):
    """Wider substrings first, as `choose_layout` picks for radius 31 at 1M codes: the
    first tables hold more bits than the rest, which the probing radii must allow for."""

    def _layout_for(self, n: int) -> Layout:
        return (
            Layout((22,) * 8 + (20,) * 4) if self.code_bytes == 32 else Layout((9,) * 4 + (7,) * 4)
        )


class BatchScanMIH(ProbingMIH):
    """MIH that scans every batch of 32-byte codes once for all its queries, through the
    AVX-512 loop where the CPU has one, else the portable loop."""

    def _mode(self, part: Part, radius: int, queries: int) -> int:
        return BATCH_SCAN if self.code_bytes == 32 else SCAN


class PortableBatchScanMIH(BatchScanMIH):
    """The batch scan's portable loop, on any CPU."""

    def search(self, codes: np.ndarray, radius: int) -> list[Hits]:
        previous = _mih.vectors(False)
        try:
            return super().search(codes, radius)
        finally:
            _mih.vectors(previous)


class BackgroundMIH(MIHIndex):
    """MIH merging in a background thread while the test goes on adding and searching."""

    def __init__(self, code_bytes: int, radius: int | None = None, **options: object) -> None:
        super().__init__(code_bytes, radius, **({"min_tail": 16} | options))  # type: ignore[arg-type]


PERCEPTUAL_BACKENDS = [
    FlatIndex,
    MIHIndex,
    ProbingMIH,
    WideMIH,
    NarrowMIH,
    UnevenMIH,
    BatchScanMIH,
    PortableBatchScanMIH,
    BackgroundMIH,
]


def flip_bits(code: np.ndarray, count: int, rng: np.random.Generator) -> np.ndarray:
    """A copy of `code` at exactly `count` bits from it."""
    bits = np.unpackbits(code)
    positions = rng.choice(bits.size, size=count, replace=False)
    bits[positions] ^= 1
    return np.packbits(bits)


def make_codes(rng: np.random.Generator, n: int, code_bytes: int, clustered: bool) -> np.ndarray:
    """Uniform codes, or near-duplicates of a few originals as real banks hold."""
    if not clustered:
        return rng.integers(0, 256, (n, code_bytes), dtype=np.uint8)
    centres = rng.integers(0, 256, (max(1, n // 20), code_bytes), dtype=np.uint8)
    rows = [
        flip_bits(centres[rng.integers(len(centres))], int(rng.integers(0, 40)), rng)
        for _ in range(n)
    ]
    return np.array(rows, dtype=np.uint8).reshape(n, code_bytes)


operation = st.sampled_from(["add", "remove", "search", "save_load"])
#: Ids beyond 32 bits, for mih (which stores ids compactly when all fit); faiss flat
#: keeps a flag per possible id, so it is given small ids only.
FAR_ID = 1 << 33


@pytest.mark.parametrize("backend", PERCEPTUAL_BACKENDS)
@pytest.mark.parametrize("code_bytes", [32, 8])
@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    seed=st.integers(0, 2**32 - 1),
    clustered=st.booleans(),
    steps=st.lists(st.tuples(operation, st.integers(0, 64)), min_size=1, max_size=12),
)
def test_matches_brute_force(
    backend: type[FlatIndex] | type[MIHIndex],
    code_bytes: int,
    seed: int,
    clustered: bool,
    steps: list[tuple[str, int]],
    tmp_path: Path,
) -> None:
    rng = np.random.default_rng(seed)
    index, oracle = backend(code_bytes), BruteForceIndex(code_bytes)
    far_ids = 0.1 if issubclass(backend, MIHIndex) else 0.0
    next_id = 0
    for op, radius in steps:
        if op == "add":
            n = int(rng.integers(1, 80))
            codes = make_codes(rng, n, code_bytes, clustered)
            # Some ids are re-used: an add replaces the code stored under that id.
            ids = np.arange(next_id, next_id + n, dtype=np.int64) - int(rng.integers(0, 5))
            ids = np.unique(np.maximum(ids, 0))[: len(codes)]
            # Ids come in any order, a few beyond 32 bits (stored compactly when all fit).
            ids = rng.permutation(ids) + np.where(rng.random(len(ids)) < far_ids, FAR_ID, 0)
            codes = codes[: len(ids)]
            index.add(ids, codes)
            oracle.add(ids, codes)
            next_id += n
        elif op == "remove" and next_id:
            ids = rng.integers(0, next_id, int(rng.integers(1, 30)))
            ids += np.where(rng.random(len(ids)) < far_ids, FAR_ID, 0)
            assert index.remove(np.unique(ids)) == oracle.remove(np.unique(ids))
        elif op == "save_load":
            path = tmp_path / f"index-{seed}.bin"
            index.save(path)
            index = backend.load(path)
        else:
            stored = make_codes(rng, 6, code_bytes, clustered)
            # Queries exactly at, just inside and just outside the radius of stored codes.
            queries = [stored]
            if len(oracle):
                base = oracle._codes[rng.integers(0, len(oracle), 3)]
                limit = code_bytes * 8
                for delta in (-1, 0, 1):
                    flips = min(max(radius + delta, 0), limit)
                    queries.append(np.array([flip_bits(c, flips, rng) for c in base]))
            batch = np.concatenate(queries)
            got = index.search(batch, radius)
            want = oracle.search(batch, radius)
            assert [h.pairs() for h in got] == [h.pairs() for h in want]
        assert len(index) == len(oracle)


@pytest.mark.parametrize("radius", [0, 5])
def test_exact_index_finds_identical_codes_only(radius: int, tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    codes = rng.integers(0, 256, (50, 16), dtype=np.uint8)
    codes[10] = codes[3]
    index = ExactIndex(16)
    index.add(np.arange(50), codes)
    near = codes[0].copy()
    near[0] ^= 1
    got = index.search(np.stack([codes[3], near]), radius)
    assert got[0].pairs() == [(3, 0), (10, 0)]
    assert got[1].pairs() == []
    assert index.remove(np.array([3, 99])) == 1
    index.save(tmp_path / "exact.npz")
    loaded = ExactIndex.load(tmp_path / "exact.npz")
    assert len(loaded) == 49
    assert loaded.search(codes[3:4], 0)[0].pairs() == [(10, 0)]


@pytest.mark.parametrize("backend", PERCEPTUAL_BACKENDS)
def test_add_replaces_code_under_same_id(backend) -> None:  # type: ignore[no-untyped-def]
    index = backend(32)
    first, second = np.zeros((1, 32), np.uint8), np.full((1, 32), 255, np.uint8)
    index.add(np.array([1]), first)
    index.add(np.array([1]), second)
    assert len(index) == 1
    assert index.search(first, 0)[0].pairs() == []
    assert index.search(second, 0)[0].pairs() == [(1, 0)]


def missed_while(index, stable: np.ndarray, rounds: int, step: int, write) -> list[str]:  # type: ignore[no-untyped-def]
    """Search for ids 0..len(stable) (indexed under `stable`) `rounds` times, eight at a
    time, while `write()` runs over and over in another thread; the ids a search missed."""
    errors: list[str] = []
    done = threading.Event()

    def keep_writing() -> None:
        while not done.is_set():
            write()

    writer = threading.Thread(target=keep_writing)
    writer.start()
    try:
        for round_ in range(rounds):
            picks = (np.arange(8) * step + round_) % len(stable)
            for pick, hits in zip(picks, index.search(stable[picks], 0), strict=True):
                if int(pick) not in hits.ids.tolist():
                    errors.append(f"id {pick} missing in round {round_}")
    finally:
        done.set()
        writer.join()
    return errors


def test_searches_stay_exact_while_adds_merge_in_the_background() -> None:
    """Codes added before the searches start are found by every search, whatever merges,
    adds and removals of other ids run meanwhile in other threads."""
    rng = np.random.default_rng(3)
    index = MIHIndex(32, min_tail=64)
    stable = rng.integers(0, 256, (500, 32), dtype=np.uint8)
    index.add(np.arange(500), stable)
    index.flush()
    next_id = [1000]

    def churn() -> None:
        first = next_id[0]
        index.add(np.arange(first, first + 50), make_codes(rng, 50, 32, False))
        index.remove(np.arange(first - 40, first - 20))
        next_id[0] = first + 50

    assert missed_while(index, stable, 200, 61, churn) == []
    index.flush()
    oracle = BruteForceIndex(32)
    oracle.add(np.arange(500), stable)
    assert [h.pairs()[:1] for h in index.search(stable[:20], 0)] == [
        h.pairs()[:1] for h in oracle.search(stable[:20], 0)
    ]


def test_background_merges_pause_between_them_and_searches_see_the_waiting_tail() -> None:
    """After a merge, the next one waits (MERGE_PAUSE times the last one's duration):
    codes added meanwhile are searched in the tail, then merged once the pause is over."""
    rng = np.random.default_rng(4)
    index, oracle = MIHIndex(32, min_tail=16), BruteForceIndex(32)
    first = make_codes(rng, 200, 32, clustered=True)
    index.add(np.arange(200), first)
    oracle.add(np.arange(200), first)
    index.flush()
    # The first add's background merge may still be setting its own pause after the
    # flush went ahead (it had already swapped its part in): let it finish first.
    for thread in threading.enumerate():
        if thread.name == "mih-merge":
            thread.join(timeout=10)
    index._next_merge = time.monotonic() + 1.0  # as if the last merge had taken 1/3 s
    more = make_codes(rng, 200, 32, clustered=True)
    index.add(np.arange(200, 400), more)
    oracle.add(np.arange(200, 400), more)
    queries = np.concatenate([first[:20], more[:20]])
    time.sleep(0.3)
    assert index._tail_size == 200  # still waiting
    assert [h.pairs() for h in index.search(queries, 40)] == [
        h.pairs() for h in oracle.search(queries, 40)
    ]
    deadline = time.monotonic() + 10
    while index._tail_size and time.monotonic() < deadline:
        time.sleep(0.05)
    assert index._tail_size == 0 and index._next_merge > time.monotonic() - 1
    assert [h.pairs() for h in index.search(queries, 40)] == [
        h.pairs() for h in oracle.search(queries, 40)
    ]
    # A flush (a snapshot) does not wait out a pause.
    index._next_merge = time.monotonic() + 60
    index.add(np.arange(400, 420), make_codes(rng, 20, 32, clustered=False))
    started = time.monotonic()
    index.flush()
    assert index._tail_size == 0 and time.monotonic() - started < 10


@pytest.mark.parametrize("backend", PERCEPTUAL_BACKENDS)
def test_re_adding_the_same_codes_never_hides_them_from_a_search(backend) -> None:  # type: ignore[no-untyped-def]
    """A process re-applies its own changes (its change follower adds again what a request
    just added): the ids must stay visible to searches running meanwhile."""
    rng = np.random.default_rng(5)
    index = backend(32)
    stable = rng.integers(0, 256, (200, 32), dtype=np.uint8)
    index.add(np.arange(200), stable)

    def re_add() -> None:
        index.add(np.arange(200), stable)

    assert missed_while(index, stable, 1500, 23, re_add) == []
    assert len(index) == 200


@pytest.mark.parametrize("backend", [BatchScanMIH, PortableBatchScanMIH])
def test_batch_scan_crosses_blocks_and_skips_removed_codes(backend) -> None:  # type: ignore[no-untyped-def]
    """The batch scan reads codes in blocks of 1,024, eight at a time: a bank of a few
    blocks and a ragged end, with removed codes and a fresh tail, at radii from exact
    copies to the whole width."""
    rng = np.random.default_rng(11)
    index, oracle = backend(32, min_tail=1 << 20), BruteForceIndex(32)
    codes = make_codes(rng, 2_603, 32, clustered=True)
    index.add(np.arange(2_603), codes)
    index.flush()
    fresh = make_codes(rng, 37, 32, clustered=False)
    index.add(np.arange(2_603, 2_640), fresh)  # stays in the tail
    oracle.add(np.arange(2_603), codes)
    oracle.add(np.arange(2_603, 2_640), fresh)
    gone = rng.choice(2_640, 300, replace=False)
    index.remove(gone)
    oracle.remove(gone)
    picks = np.concatenate([codes[[0, 1023, 1024, 2047, 2048, 2600, 2602]], fresh[:3]])
    queries = np.concatenate([picks, [flip_bits(c, 40, rng) for c in picks]])
    for radius in (0, 31, 47, 127, 128, 200, 256):
        got = index.search(queries, radius)
        assert [h.pairs() for h in got] == [h.pairs() for h in oracle.search(queries, radius)]


def test_a_batch_is_split_over_threads_only_when_the_work_pays_for_the_hand_off() -> None:
    """Large batches against many codes are split over the pool and come back in order;
    small work stays in the calling thread, where it answered twice as fast."""
    rng = np.random.default_rng(5)
    index, oracle = MIHIndex(32, 47, threads=2, min_tail=1 << 20), BruteForceIndex(32)
    codes = make_codes(rng, 30_000, 32, clustered=True)
    index.add(np.arange(1_000), codes[:1_000])
    oracle.add(np.arange(1_000), codes[:1_000])
    queries = np.array([flip_bits(c, 20, rng) for c in codes[rng.choice(1_000, 64)]])
    assert [h.pairs() for h in index.search(queries, 47)] == [
        h.pairs() for h in oracle.search(queries, 47)
    ]
    assert index._pool is None
    index.add(np.arange(1_000, 30_000), codes[1_000:])
    oracle.add(np.arange(1_000, 30_000), codes[1_000:])
    queries = np.array([flip_bits(c, 40, rng) for c in codes[rng.choice(30_000, 96)]])
    got = index.search(queries, 47)
    assert index._pool is not None
    assert [h.pairs() for h in got] == [h.pairs() for h in oracle.search(queries, 47)]
    index.close()


def million_code_part() -> Part:
    """A part the cost model takes for 1M codes laid out for radius 47 (it holds none)."""
    n = 1_000_000
    layout = choose_layout(n, 256, 47)
    empty = np.zeros(0, np.uint32)
    return Part(
        codes=np.zeros((0, 32), np.uint8),
        ids=empty,
        alive=np.zeros(n, np.uint8),
        layout=layout,
        table_layout=np.zeros((len(layout.widths), 4), np.int32),
        tables=[(empty, empty, np.zeros(0, np.uint64))] * len(layout.widths),
    )


def test_cost_model_scans_wide_batches_and_probes_the_rest() -> None:
    """At 1M codes and radius 47 a batch of 100 queries is cheaper scanned once than
    probed 100 times; a single query, or any batch at radius 31, probes the tables."""
    part = million_code_part()
    assert part.mode(47, 100, 32, vectorised=True) == BATCH_SCAN
    # The portable loop lost to the tables at every batch size measured.
    assert part.mode(47, 100, 32, vectorised=False) == TABLES
    assert part.mode(47, 1, 32, vectorised=True) == TABLES
    assert part.mode(31, 100, 32, vectorised=True) == TABLES
    # The batch scan reads 32-byte codes only.
    assert part.mode(47, 100, 8, vectorised=True) == TABLES


def test_the_index_scans_batches_only_through_the_vector_loop() -> None:
    """`MIHIndex` asks the kernel which loop a batch scan would run."""
    index = MIHIndex(32, 47)
    part = million_code_part()
    if _mih.vectorised():  # this CPU has AVX-512
        assert index._mode(part, 47, 100) == BATCH_SCAN
    previous = _mih.vectors(False)
    try:
        assert not _mih.vectorised()
        assert index._mode(part, 47, 100) == TABLES
    finally:
        _mih.vectors(previous)


def test_snapshot_is_memory_mapped_and_refuses_other_files(tmp_path: Path) -> None:
    rng = np.random.default_rng(4)
    codes = rng.integers(0, 256, (3000, 32), dtype=np.uint8)
    index = MIHIndex(32, min_tail=16, background=False)
    index.add(np.arange(3000), codes)
    index.remove(np.array([5]))
    index.save(tmp_path / "mih.snapshot")
    loaded = MIHIndex.load(tmp_path / "mih.snapshot")
    assert isinstance(loaded._part.codes, np.memmap)
    assert len(loaded) == 2999
    assert loaded.search(codes[5:7], 0)[0].pairs() == []
    assert loaded.search(codes[5:7], 0)[1].pairs() == [(6, 0)]
    # Removing from a loaded snapshot changes the process's copy, never the file.
    loaded.remove(np.array([6]))
    assert MIHIndex.load(tmp_path / "mih.snapshot").search(codes[6:7], 0)[0].pairs() == [(6, 0)]
    (tmp_path / "other").write_bytes(b"not a snapshot")
    with pytest.raises(SnapshotError):
        MIHIndex.load(tmp_path / "other")
    truncated = tmp_path / "truncated"
    truncated.write_bytes((tmp_path / "mih.snapshot").read_bytes()[:-5000])
    with pytest.raises(SnapshotError):
        MIHIndex.load(truncated)
    # An older version's part, not kept in id order, cannot be searched by id: refused.
    meta, arrays = snapshot.read(tmp_path / "mih.snapshot")
    snapshot.write(
        tmp_path / "old", meta, arrays | {"ids": np.ascontiguousarray(arrays["ids"][::-1])}
    )
    with pytest.raises(SnapshotError, match="older version"):
        MIHIndex.load(tmp_path / "old")


@pytest.mark.parametrize(("n", "radius"), [(10_000, 31), (1_000_000, 31), (10_000_000, 31)])
def test_layout_keeps_probing_cheaper_than_a_scan(n: int, radius: int) -> None:
    layout = choose_layout(n, 256, radius)
    assert layout.cost(n, radius) < n * SCAN_COST
    assert sum(layout.widths) == 256
    assert all(MIN_WIDTH <= width <= MAX_WIDTH for width in layout.widths)
    # The tables probed one bit farther are the widest (see `candidate_layouts`).
    assert list(layout.widths) == sorted(layout.widths, reverse=True)


def test_tables_probed_farther_are_made_wider_where_it_pays() -> None:
    # Measured at 1M uniform codes and radius 31: 8 x 22 + 4 x 20 bits answers about a
    # fifth faster than the even 4 x 22 + 8 x 21, whose 21-bit tables probed at 2 bits
    # bring twice the candidates of a 22-bit one.
    assert choose_layout(1_000_000, 256, 31).widths == (22,) * 8 + (20,) * 4
    for layout in candidate_layouts(256, 31):
        assert sum(layout.widths) == 256
        farther = 31 % len(layout.widths) + 1
        assert min(layout.widths[:farther]) >= max(layout.widths[farther:], default=0)


@pytest.mark.parametrize("n", [1_000_000, 3_000_000, 10_000_000])
@pytest.mark.parametrize("radius", [31, 47])
def test_layout_fits_the_memory_budget_at_service_sizes(n: int, radius: int) -> None:
    assert choose_layout(n, 256, radius).nbytes(n, 32) <= MAX_BYTES_PER_CODE * n


def test_layout_predicts_the_bytes_of_a_built_index() -> None:
    codes = np.random.default_rng(5).integers(0, 256, (30_000, 32), dtype=np.uint8)
    index = MIHIndex(32, background=False)
    index.add(np.arange(30_000), codes)
    index.flush()
    assert index.nbytes == index._part.layout.nbytes(30_000, 32)
