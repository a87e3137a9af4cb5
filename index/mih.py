"""Exact Hamming radius search by multi-index hashing (Norouzi, Punjani and Fleet).

A code is cut into m substrings. A code within r bits of a query has, by the pigeonhole
principle, some substring close to the query's (see `Layout.reaches`), so probing each
substring table at those few keys finds every candidate, and checking each candidate on
the whole code keeps exactly the hits. The number and width of the substrings are chosen
from the number of codes and the radius the index is built for (`choose_layout`): wider
substrings mean fewer candidates but more keys to probe. The kernels are in C (`_mih.c`)
and release the GIL; batches are split over threads.

The index is a built part (tables over its slots) and an unindexed tail that takes new
codes and is scanned linearly. When the tail outgrows a small share of the index, a
background thread merges both into a new built part, dropping removed codes, and swaps it
in under the write lock: adds and removes never wait for a rebuild, and searches never see
a half-built one. Removal clears an alive flag at once; a built part keeps its codes in id
order, so the slot of an id is found by binary search, without a map by id (4 bytes a
code). Layouts are chosen within a memory budget (`MAX_BYTES_PER_CODE`), and each merge
gives the memory it freed back to the system (`_mih.trim`).

A batch of queries at a radius too wide for the tables to pay (the pdq review distance,
47 bits, at a million codes and more) is answered by one blocked scan of the part for the
whole batch instead (`Part.mode` picks by the cost model): each block of codes meets every
query while it is in the cache, eight codes at a time on AVX-512 where the CPU has it.

Snapshots are memory-mapped (`index/snapshot.py`): loading a 10M-code index is reading a
header, not rebuilding tables.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from itertools import pairwise
from math import ceil, comb, log2
from pathlib import Path
from typing import Self

import numpy as np

import index._mih as _mih
from index import snapshot
from index.base import Hits, RWLock, check_batch, check_queries, sort_hits

logger = logging.getLogger(__name__)

#: Widest substring: its sort needs a count per value (64 MiB at 24 bits) while building.
MAX_WIDTH = 24
MIN_WIDTH = 8
#: Most codes per bucket of the offsets array (4 to 8 on average); see `_mih.c`.
BUCKET_CODES = 8
#: Layouts are chosen among those whose arrays (codes, ids, flags, tables) take at most
#: this many bytes per code, when any does: a bank's size is bounded by memory first.
#: Below 100 (the target per stored hash), leaving room for the tail (at most 1/64 of
#: the slots, in arrays of 41 bytes a slot grown by doubling: 1.3 bytes a code) and the
#: allocator. At 1M pdq codes it rules out the fewest substrings (a 24-bit table's
#: presence bitmap alone is 2 MiB) but admits eight of 22 bits and four of 20 (96.0 bytes
#: a code); from a few million codes on, the fastest layout fits.
MAX_BYTES_PER_CODE = 97
#: The tail is merged into the built part once it holds this share of all slots.
TAIL_SHARE = 1 / 64
MIN_TAIL = 4096
#: A background merge waits, after the last one, this many times as long as that one
#: took: merges take at most a quarter of a core however fast codes arrive. Without the
#: pause, a bank growing by 10k codes a second at 1M spent 37% of the server's CPU in
#: merges (each rebuilds every table), which the adds themselves needed.
MERGE_PAUSE = 3.0
NO_SLOT = -1
#: Cost model, in units of one candidate (its bucket, entry and code fetched from memory
#: and checked: about 54 ns here). A probed key costs a test of the presence bitmap:
#: about 10 ns within 2 bits of the query's substring, where many probes share a cache line,
#: twice that farther out, where nearly every probe is a miss of its own; a code in a
#: linear scan, 0.9 ns. Fitted on 1M uniform codes at radius 31 over layouts of 10 to 13
#: substrings, checked at radius 47 and at 10M codes. Since probes are tested a word of
#: the presence bitmap at a time and pipelined deeper, all are cheaper, but the model's
#: choice stayed the fastest measured (1M codes: 11 substrings at radius 31 against 12 and
#: 13; 12 at radius 47 against 11, 13, 14 and 16).
PROBE_COST = 0.18
FAR_PROBE_COST = 0.36
CANDIDATE_COST = 1.0
SCAN_COST = 1 / 60
#: A batch scan (32-byte codes; `_mih.c`) reads each code once for the whole batch, then
#: compares it with every query on its first 128 bits. Fitted against the model's own
#: cost of probing at 1M codes and radius 47 (14,751 units, measured 290-360 us a query):
#: reading a code costs 1/17 of a unit, comparing it with a query 1/140. So a batch of
#: about ten queries or more at that radius is scanned (100 queries: 172 against 360 us
#: a query), while at radius 31 probing stays about five times cheaper. Only through the
#: AVX-512 loop: on a CPU without it (1M codes, radius 47), the portable loop lost to
#: probing at every batch size (8 queries: 2,001 against 1,023 us a query; 100: 823
#: against 526; 1,000: 843 against 426), so there the tables answer every batch.
BATCH_CODE_COST = 1 / 17
BATCH_PAIR_COST = 1 / 140
#: How `_mih.search` goes through the built part.
SCAN, TABLES, BATCH_SCAN = 0, 1, 2
#: Queries per thread below which a batch is not worth splitting.
MIN_CHUNK = 32
#: Model cost (`Layout.cost` units, about 54 ns each) below which a batch is searched in
#: the calling thread: handing chunks to the pool and back took about 0.3 ms here, so a
#: 100-query batch against a small bank took twice as long split (727 against 350 us).
MIN_SPLIT_COST = 20_000
#: Codes below which tables are built one after another (threads cost more than they save).
PARALLEL_BUILD = 1 << 16
SNAPSHOT_KIND = "mih"
TABLE_ARRAYS = ("offsets", "entries", "present")
NO_HITS = Hits(*(np.zeros(0, dtype=t) for t in (np.int64, np.int32)))
NO_HITS.ids.flags.writeable = NO_HITS.distances.flags.writeable = False


#: Per substring: bucket offsets, packed entries, and a bitmap of the values present.
Table = tuple[np.ndarray, np.ndarray, np.ndarray]


@dataclass(frozen=True, slots=True)
class Layout:
    """How a code is cut into substrings, the widest first (see `choose_layout`)."""

    widths: tuple[int, ...]

    @classmethod
    def split(cls, bits: int, tables: int) -> Layout:
        """`bits` cut into `tables` substrings."""
        base, extra = divmod(bits, tables)
        return cls(tuple([base + 1] * extra + [base] * (tables - extra)))

    @property
    def starts(self) -> list[int]:
        """The first bit of each substring."""
        return [sum(self.widths[:t]) for t in range(len(self.widths))]

    def reaches(self, radius: int) -> list[int]:
        """Probe radius per table (-1: not probed) that finds every code within `radius`.

        With radius = q*m + a, a code within it has one of the first a+1 substrings within
        q bits of the query's or one of the rest within q-1: were all of them farther, the
        distance would be at least (a+1)(q+1) + (m-a-1)q = radius + 1.
        """
        quotient, rest = divmod(radius, len(self.widths))
        return [min(w, quotient if t <= rest else quotient - 1) for t, w in enumerate(self.widths)]

    def cost(self, n: int, radius: int) -> float:
        """Expected cost of one search of `n` uniform codes, in random memory accesses."""
        if not self.widths:
            return float("inf")
        total = 0.0
        for width, reach in zip(self.widths, self.reaches(radius), strict=True):
            probes = sum(comb(width, k) for k in range(reach + 1))
            probe_cost = PROBE_COST if reach <= 2 else FAR_PROBE_COST
            total += probes * probe_cost + probes * n / 2**width * CANDIDATE_COST
        return total

    def nbytes(self, n: int, code_bytes: int) -> int:
        """Bytes of the arrays of `n` codes built in this layout (see `Part.build`)."""
        tables = sum(
            4 * ((1 << (width - low_bits(n, width))) + 1 + n) + 8 * (((1 << width) + 63) // 64)
            for width in self.widths
        )
        return n * (code_bytes + 4 + 1) + tables


def slot_bits(n: int) -> int:
    """Bits that hold a slot number of a part of `n` codes."""
    return max(1, (n - 1).bit_length())


def low_bits(n: int, width: int) -> int:
    """Low bits of a substring kept in its table's entries, not in its buckets: as
    many as leave about BUCKET_CODES codes per bucket and fit beside the slot."""
    bucket_bits = min(
        width, max(ceil(log2(max(1.0, n / BUCKET_CODES))), width + slot_bits(n) - 32, 0)
    )
    return width - bucket_bits


def candidate_layouts(bits: int, radius: int) -> list[Layout]:
    """Layouts worth costing for a search at `radius`: for each number of substrings, the
    near-equal split, and splits whose tables probed one bit farther (the first
    `radius % m + 1`, see `Layout.reaches`) are wider than the rest. Those are the costly
    ones: at 1M codes and radius 31, eight tables of 22 bits and four of 20 answer about
    a fifth faster than four of 22 and eight of 21."""
    fewest = max(1, -(-bits // MAX_WIDTH))
    most = max(fewest, min(64, bits // MIN_WIDTH))
    layouts = []
    for m in range(fewest, most + 1):
        even = Layout.split(bits, m)
        layouts.append(even)
        farther = radius % m + 1
        rest = m - farther
        if not rest:  # every table is probed as far: only the even split
            continue
        for width in range(even.widths[0], MAX_WIDTH + 1):
            left = bits - farther * width
            if left < rest * MIN_WIDTH:
                break
            layout = Layout((width,) * farther + Layout.split(left, rest).widths)
            if left <= rest * MAX_WIDTH and layout != even:
                layouts.append(layout)
    return layouts


def choose_layout(n: int, bits: int, radius: int) -> Layout:
    """The cheapest layout for `n` codes searched at `radius`, among those within
    MAX_BYTES_PER_CODE when any is."""
    layouts = candidate_layouts(bits, radius)
    size = max(n, 1)
    small = [
        layout for layout in layouts if layout.nbytes(size, bits // 8) <= MAX_BYTES_PER_CODE * size
    ]
    return min(small or layouts, key=lambda layout: layout.cost(size, radius))


def _hits(ids: np.ndarray, distances: np.ndarray) -> Hits:
    """One query's hits, in a search's order (sorting only when there are several)."""
    if len(ids) > 1:
        return sort_hits(ids, distances)
    return Hits(ids, distances) if len(ids) else NO_HITS


def _find_sorted(sorted_ids: np.ndarray, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Where each of `ids` is in the non-empty ascending `sorted_ids` (clamped to its
    range), and whether it is there."""
    at = np.minimum(np.searchsorted(sorted_ids, ids), len(sorted_ids) - 1)
    return at, sorted_ids[at] == ids


@dataclass(frozen=True, slots=True)
class View:
    """What a search reads: the built part and the tail's filled slots. Writers publish a
    new one under the write lock; a search takes it with one attribute read, no lock."""

    part: Part
    tail_codes: np.ndarray
    tail_alive: np.ndarray
    tail_ids: np.ndarray


@dataclass(frozen=True, slots=True)
class Part:
    """The built part of the index: codes, their ids, alive flags and substring tables."""

    codes: np.ndarray  # (n, code_bytes) uint8
    ids: np.ndarray  # (n,) ascending; uint32 when every id fits, else int64
    alive: np.ndarray  # (n,) uint8, cleared in place on removal
    layout: Layout
    table_layout: np.ndarray  # (m, 4) int32: start, width, low bits, slot bits
    tables: list[Table]
    probe_at: dict[int, float] = field(default_factory=dict)  # radius -> cost of probing

    @property
    def size(self) -> int:
        return len(self.alive)

    def probe_cost(self, radius: int) -> float:
        """The model's cost of probing the tables for one query at `radius`."""
        if radius not in self.probe_at:
            self.probe_at[radius] = (
                self.layout.cost(self.size, radius) if self.tables else float("inf")
            )
        return self.probe_at[radius]

    def mode(self, radius: int, queries: int, code_bytes: int, vectorised: bool) -> int:
        """The cheapest way through this part for `queries` queries at `radius`: probing
        the tables, one scan per query, or one scan for the whole batch (only through
        the AVX-512 loop: `vectorised`)."""
        probing = self.probe_cost(radius)
        if code_bytes == 32 and queries > 1 and vectorised:
            batch = self.size * (BATCH_CODE_COST + queries * BATCH_PAIR_COST) / queries
            if batch < min(probing, self.size * SCAN_COST):
                return BATCH_SCAN
        return TABLES if probing < self.size * SCAN_COST else SCAN

    @classmethod
    def empty(cls, code_bytes: int) -> Part:
        return cls.build(
            np.zeros((0, code_bytes), np.uint8), np.zeros(0, np.int64), Layout(()), None
        )

    @classmethod
    def build(
        cls,
        codes: np.ndarray,
        ids: np.ndarray,
        layout: Layout,
        pool: ThreadPoolExecutor | None,
    ) -> Part:
        """Tables over `codes`, whose `ids` ascend (a slot is found by binary search),
        built in `pool` when given (the kernel releases the GIL)."""
        n = len(codes)
        rows = [
            (start, width, low_bits(n, width), slot_bits(n))
            for start, width in zip(layout.starts, layout.widths, strict=True)
        ]
        table_layout = np.array(rows, dtype=np.int32).reshape(-1, 4)

        def build_table(row: tuple[int, int, int, int]) -> Table:
            start, width, kept, bits = row
            offsets = np.empty((1 << (width - kept)) + 1, dtype=np.uint32)
            entries = np.empty(n, dtype=np.uint32)
            present = np.empty(((1 << width) + 63) // 64, dtype=np.uint64)
            _mih.build(codes, codes.shape[1], start, width, kept, bits, offsets, entries, present)
            return offsets, entries, present

        parallel = pool is not None and n >= PARALLEL_BUILD
        tables = list(pool.map(build_table, rows) if parallel else map(build_table, rows))  # type: ignore[union-attr]
        small_ids = not n or int(ids[-1]) < 2**32
        return cls(
            codes=codes,
            ids=ids.astype(np.uint32 if small_ids else np.int64),
            alive=np.ones(n, dtype=np.uint8),
            layout=layout,
            table_layout=table_layout,
            tables=tables if n else [],
        )


class MIHIndex:
    """Multi-index hashing with a scanned tail for fresh adds and background merges.

    `radius` is the radius the service searches at, which the layout is chosen for; any
    radius from 0 to the code width stays exact. `threads` splits batches (default: one
    per core). `background` merges in a thread; when false, the adding call merges.
    """

    def __init__(
        self,
        code_bytes: int,
        radius: int | None = None,
        *,
        threads: int | None = None,
        min_tail: int = MIN_TAIL,
        background: bool = True,
        tables: int | None = None,
    ) -> None:
        if code_bytes % 8:
            raise ValueError("multi-index hashing needs codes of a multiple of 64 bits")
        self.code_bytes = code_bytes
        bits = code_bytes * 8
        # The industry's pdq threshold, 31 of 256 bits, scaled to the code's width.
        self.radius = radius if radius is not None else bits * 31 // 256
        self.threads = threads or os.cpu_count() or 1
        self.min_tail = min_tail
        self.background = background
        self.fixed_tables = tables
        self._part = Part.empty(code_bytes)
        self._tail_codes = np.zeros((0, code_bytes), dtype=np.uint8)
        self._tail_ids = np.zeros(0, dtype=np.int64)
        self._tail_alive = np.zeros(0, dtype=np.uint8)
        self._tail_size = 0
        self._view = View(self._part, self._tail_codes, self._tail_alive, self._tail_ids)
        self._live = 0
        # The live slots of the tail (numbered within it), sorted by id. The part needs no
        # such map: its ids ascend, so a binary search finds a slot.
        self._tail_index_ids = np.zeros(0, dtype=np.int64)
        self._tail_index_slots = np.zeros(0, dtype=np.int64)
        self._lock = RWLock()
        self._merging = False
        self._next_merge = 0.0  # time.monotonic() before which a background merge waits
        self._hurry = threading.Event()  # set: a waiting background merge goes at once
        self._pool: ThreadPoolExecutor | None = None
        self._pool_lock = threading.Lock()

    # --- updates --------------------------------------------------------------------------

    def _layout_for(self, n: int) -> Layout:
        if self.fixed_tables:
            return Layout.split(self.code_bytes * 8, self.fixed_tables)
        return choose_layout(n, self.code_bytes * 8, self.radius)

    def _executor(self) -> ThreadPoolExecutor | None:
        if self.threads < 2:
            return None
        with self._pool_lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self.threads, thread_name_prefix="mih")
            return self._pool

    def _slot_per_id(self, ids: np.ndarray) -> np.ndarray:
        """The live slot of each of `ids`, NO_SLOT for those not indexed (lock held)."""
        slots = np.full(len(ids), NO_SLOT, dtype=np.int64)
        part = self._part
        if part.size:
            # Cast the few queried ids to the part's type, never the part's ids to theirs.
            fits = np.flatnonzero(ids <= np.iinfo(part.ids.dtype).max)
            at, found = _find_sorted(part.ids, ids[fits].astype(part.ids.dtype))
            found &= part.alive[at] != 0
            slots[fits[found]] = at[found]
        if len(self._tail_index_ids):
            at, found = _find_sorted(self._tail_index_ids, ids)
            slots[found] = self._tail_index_slots[at[found]] + part.size
        return slots

    def _slots(self, ids: np.ndarray) -> np.ndarray:
        slots = self._slot_per_id(ids)
        return slots[slots != NO_SLOT]

    def _kill(self, slots: np.ndarray) -> int:
        """Clear the alive flags of `slots` (caller holds the write lock)."""
        if not len(slots):
            return 0
        size = self._part.size
        in_part, in_tail = slots[slots < size], slots[slots >= size] - size
        self._part.alive[in_part] = 0
        self._tail_alive[in_tail] = 0
        if len(in_tail):
            at = np.searchsorted(self._tail_index_ids, self._tail_ids[in_tail])
            self._tail_index_ids = np.delete(self._tail_index_ids, at)
            self._tail_index_slots = np.delete(self._tail_index_slots, at)
        self._live -= len(slots)
        return len(slots)

    def _unchanged(self, slots: np.ndarray, codes: np.ndarray) -> np.ndarray:
        """Which `slots` (of the ids being added) already hold the very same code (write
        lock held)."""
        present = slots != NO_SLOT
        same = np.zeros(len(slots), dtype=np.bool_)
        if present.any():
            found = slots[present]
            size = self._part.size
            stored = np.empty((len(found), self.code_bytes), dtype=np.uint8)
            in_part = found < size
            stored[in_part] = self._part.codes[found[in_part]]
            stored[~in_part] = self._tail_codes[found[~in_part] - size]
            same[present] = (stored == codes[present]).all(axis=1)
        return same

    def add(self, ids: np.ndarray, codes: np.ndarray) -> None:
        ids, codes = check_batch(ids, codes, self.code_bytes)
        if not len(ids):
            return
        with self._lock.write():
            # Re-adding an id under its own code changes nothing, and must not move it: a
            # search that captured the tail before the move would see the old slot cleared
            # and not the new one (a process re-applying its own change raced a lookup).
            slots = self._slot_per_id(ids)
            same = self._unchanged(slots, codes)
            if same.all():
                return
            ids, codes, slots = ids[~same], codes[~same], slots[~same]
            self._kill(slots[slots != NO_SLOT])
            start, end = self._tail_size, self._tail_size + len(ids)
            if end > len(self._tail_ids):
                capacity = max(end, 2 * len(self._tail_ids), 1024)
                for name in ("_tail_codes", "_tail_ids", "_tail_alive"):
                    old = getattr(self, name)
                    new = np.zeros((capacity, *old.shape[1:]), dtype=old.dtype)
                    new[:start] = old[:start]
                    setattr(self, name, new)
            self._tail_codes[start:end] = codes
            self._tail_ids[start:end] = ids
            self._tail_alive[start:end] = 1
            order = np.argsort(ids)
            at = np.searchsorted(self._tail_index_ids, ids[order])
            self._tail_index_ids = np.insert(self._tail_index_ids, at, ids[order])
            self._tail_index_slots = np.insert(self._tail_index_slots, at, start + order)
            self._tail_size, self._live = end, self._live + len(ids)
            self._publish()
            total = self._part.size + end
            merge = not self._merging and end > max(self.min_tail, int(total * TAIL_SHARE))
            self._merging = self._merging or merge
        if merge:
            if self.background:
                threading.Thread(target=self._merge_logged, name="mih-merge", daemon=True).start()
            else:
                self._merge()

    def remove(self, ids: np.ndarray) -> int:
        ids = np.unique(np.ascontiguousarray(ids, dtype=np.int64).reshape(-1))
        ids = ids[ids >= 0]
        with self._lock.write():
            return self._kill(self._slots(ids))

    def _merge_logged(self) -> None:
        try:
            # Codes added while it waits join this merge: the tail is scanned meanwhile.
            self._hurry.wait(max(0.0, self._next_merge - time.monotonic()))
            self._hurry.clear()
            started = time.monotonic()
            self._merge()
            finished = time.monotonic()
            self._next_merge = finished + MERGE_PAUSE * (finished - started)
        except Exception:
            logger.exception("index merge failed; the tail keeps serving searches")

    def _merge(self) -> None:
        """Build a new part from the live codes of the part and tail, swap it in, and give
        the memory the old one held back to the system."""
        self._swap_in_merged()
        _mih.trim()

    def _swap_in_merged(self) -> None:
        try:
            with self._lock.read():
                part, tail_size = self._part, self._tail_size
                tail_codes, tail_ids = self._tail_codes, self._tail_ids
                keep_part = np.flatnonzero(part.alive)
                keep_tail = np.flatnonzero(self._tail_alive[:tail_size])
            # Slots below tail_size never change but for their alive flags, re-read below.
            ids = np.concatenate([part.ids[keep_part].astype(np.int64), tail_ids[keep_tail]])
            # Usually sorted already: the service's ids grow, so the tail's follow the part's.
            order = None if np.all(ids[1:] > ids[:-1]) else np.argsort(ids)
            codes = np.concatenate([part.codes[keep_part], tail_codes[keep_tail]])
            if order is not None:
                ids, codes = ids[order], codes[order]
            new = Part.build(codes, ids, self._layout_for(len(codes)), self._executor())
            del ids, codes
            with self._lock.write():
                # Removals made while building: carry the flags over.
                alive = np.concatenate([self._part.alive[keep_part], self._tail_alive[keep_tail]])
                new.alive[:] = alive if order is None else alive[order]
                rest = slice(tail_size, self._tail_size)
                self._tail_codes = self._tail_codes[rest].copy()
                self._tail_ids = self._tail_ids[rest].copy()
                self._tail_alive = self._tail_alive[rest].copy()
                self._tail_size = len(self._tail_ids)
                self._part = new
                self._index_tail()
                self._publish()
        finally:
            with self._lock.write():
                self._merging = False

    def _publish(self) -> None:
        """Make the current part and tail what searches see (write lock held)."""
        size = self._tail_size
        self._view = View(
            self._part, self._tail_codes[:size], self._tail_alive[:size], self._tail_ids[:size]
        )

    def _index_tail(self) -> None:
        """Sort the tail's live slots by id and count the live codes (write lock held)."""
        live = np.flatnonzero(self._tail_alive[: self._tail_size])
        ids = self._tail_ids[live]
        order = np.argsort(ids)
        self._tail_index_ids, self._tail_index_slots = ids[order], live[order]
        self._live = int(np.count_nonzero(self._part.alive)) + len(live)

    def flush(self) -> None:
        """Merge the tail into the built part now, in this thread (snapshots, benchmarks)."""
        self._hurry.set()  # a background merge waiting out its pause: let it run now
        while True:
            with self._lock.write():
                if not self._merging:
                    self._merging = True
                    break
            time.sleep(0.01)  # a background merge is running: let it finish first
        self._merge()
        self._hurry.clear()  # only a merge waiting before this flush was meant to hurry

    # --- search ---------------------------------------------------------------------------

    def _mode(self, part: Part, radius: int, queries: int) -> int:
        """How to search the part for `queries` queries: the cheapest way (`Part.mode`)."""
        return part.mode(radius, queries, self.code_bytes, _mih.vectorised())

    @staticmethod
    def _query_cost(view: View, radius: int) -> float:
        """The model's cost of one query, probing or scanning the part, and the tail."""
        part = view.part
        return min(part.probe_cost(radius), part.size * SCAN_COST) + len(view.tail_ids) * SCAN_COST

    def search(self, codes: np.ndarray, radius: int) -> list[Hits]:
        codes = check_queries(codes, self.code_bytes, radius)
        # The view's arrays stay valid however the index changes: slots are only ever
        # appended, merges build new arrays, and a removal racing with this search is a
        # byte store.
        view = self._view
        part = view.part
        chunks = max(1, min(self.threads, len(codes) // MIN_CHUNK))
        if chunks > 1 and len(codes) * self._query_cost(view, radius) < MIN_SPLIT_COST:
            chunks = 1

        def run(chunk: np.ndarray) -> tuple[bytes, bytes, bytes]:
            mode = self._mode(part, radius, len(chunk))
            tables = part.tables if mode == TABLES else []
            layout = part.table_layout if mode == TABLES else part.table_layout[:0]
            return _mih.search(
                part.codes, part.alive, tables, layout, view.tail_codes, view.tail_alive,
                chunk, self.code_bytes, radius, mode,
            )  # fmt: skip

        pool = self._executor() if chunks > 1 else None
        outputs = list(pool.map(run, np.array_split(codes, chunks))) if pool else [run(codes)]
        results = []
        for lims_b, slots_b, dists_b in outputs:
            if not slots_b:  # most lookups match nothing
                results.extend([NO_HITS] * (len(lims_b) // 8 - 1))
                continue
            slots = np.frombuffer(slots_b, dtype=np.int32)
            dists = np.frombuffer(dists_b, dtype=np.int32)
            ids = self._ids_of(view, slots)
            if len(lims_b) == 16:  # one query (a lookup's usual case): every hit is its own
                results.append(_hits(ids, dists))
                continue
            lims = np.frombuffer(lims_b, dtype=np.int64).tolist()
            results.extend(_hits(ids[lo:hi], dists[lo:hi]) for lo, hi in pairwise(lims))
        return results

    @staticmethod
    def _ids_of(view: View, slots: np.ndarray) -> np.ndarray:
        """The ids of a search's hits, by slot (int64)."""
        part = view.part
        # Usually all in the part or all in the tail: one take, not the masks (15 us).
        if not len(view.tail_ids) or int(slots.max()) < part.size:
            return part.ids.take(slots).astype(np.int64)
        if int(slots.min()) >= part.size:
            return view.tail_ids.take(slots - part.size)
        ids = np.empty(len(slots), dtype=np.int64)
        in_part = slots < part.size
        ids[in_part] = part.ids[slots[in_part]]
        ids[~in_part] = view.tail_ids[slots[~in_part] - part.size]
        return ids

    def __len__(self) -> int:
        return self._live

    @property
    def nbytes(self) -> int:
        """Bytes held by the index's arrays: codes, ids, flags, tables and the tail."""
        with self._lock.read():
            part = self._part
            arrays = [part.codes, part.ids, part.alive, self._tail_codes, self._tail_ids,
                      self._tail_alive, self._tail_index_ids, self._tail_index_slots]  # fmt: skip
            arrays += [array for table in part.tables for array in table]
            return sum(int(array.nbytes) for array in arrays)

    def close(self) -> None:
        """Stop the batch threads (searching again starts them anew)."""
        with self._pool_lock:
            if self._pool is not None:
                self._pool.shutdown()
                self._pool = None

    # --- snapshots ------------------------------------------------------------------------

    def save(self, path: Path) -> None:
        with self._lock.read():
            part, tail_size = self._part, self._tail_size
            arrays = {
                "codes": part.codes,
                "ids": part.ids,
                "alive": part.alive.copy(),
                "table_layout": part.table_layout,
                "tail_codes": self._tail_codes[:tail_size].copy(),
                "tail_ids": self._tail_ids[:tail_size].copy(),
                "tail_alive": self._tail_alive[:tail_size].copy(),
            }
        for t, table in enumerate(part.tables):
            for name, array in zip(TABLE_ARRAYS, table, strict=True):
                arrays[f"{name}{t}"] = array
        meta = {
            "kind": SNAPSHOT_KIND,
            "code_bytes": self.code_bytes,
            "radius": self.radius,
            "widths": list(part.layout.widths),
        }
        snapshot.write(path, meta, arrays)

    @classmethod
    def load(cls, path: Path, **options: object) -> Self:
        meta, arrays = snapshot.read(path)
        if meta.get("kind") != SNAPSHOT_KIND:
            raise snapshot.SnapshotError(f"{path} is not a multi-index hashing snapshot")
        ids = arrays["ids"]
        if np.any(ids[1:] <= ids[:-1]):
            # Written before parts were kept in id order, which removal relies on.
            raise snapshot.SnapshotError(f"{path} is from an older version: rebuild it")
        index = cls(int(meta["code_bytes"]), int(meta["radius"]), **options)  # type: ignore[arg-type]
        layout = Layout(tuple(meta["widths"]))
        index._part = Part(
            codes=arrays["codes"],
            ids=ids,
            alive=arrays["alive"],
            layout=layout,
            table_layout=np.asarray(arrays["table_layout"]),
            tables=[
                (arrays[f"offsets{t}"], arrays[f"entries{t}"], arrays[f"present{t}"])
                for t in range(len(layout.widths))
            ],
        )
        index._tail_codes = np.array(arrays["tail_codes"])
        index._tail_ids = np.array(arrays["tail_ids"])
        index._tail_alive = np.array(arrays["tail_alive"])
        index._tail_size = len(index._tail_ids)
        index._publish()
        with index._lock.write():
            index._index_tail()
        return index
