"""The in-memory state a matching process answers from.

One index per signal type holds the codes of every active hash; a compact catalogue
(numpy arrays indexed by hash id, a few bytes a hash instead of a Python object each)
says which bank a hash is in and its quality; bank policies are a small dict replaced
whole on change, so readers never see half an update. Writes through the API update
this state in place, right after their transaction commits: never a rebuild.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import Bank, HashRecord
from app.policy import DEFAULT_THRESHOLDS, Action, BankPolicy, Candidate, Thresholds
from app.review.flood import holding
from app.store.frames import attach_stored, owners_with_parts
from index import ExactIndex, FlatIndex, HashIndex, MIHIndex, codes_from_bytes
from index.base import grow_to_fit
from matcher.candidates import Variant
from matcher.signals import Registry
from matcher.video_hash import VideoHash
from matcher.video_match import MIN_FRAME_QUALITY, FramePairs

log = logging.getLogger(__name__)

#: Rows read from the database at a time while loading. Small, because each chunk's rows
#: are Python objects, and the index's own long-lived objects made meanwhile pin some of
#: the allocator's 1 MiB arenas they share: at 1M hashes, chunks of 50,000 left 28-40
#: more arenas in use after loading than chunks of 5,000 (6), for about the same time.
LOAD_CHUNK = 5_000
PDQ_BYTES = 32
SYNC_CHUNK = 1000
NO_QUALITY = -1


class PerceptualBackend(Protocol):
    """An index class for pdq and phash (MIHIndex, FlatIndex): made from the code width and
    the radius searched most often (None: the backend's default), or loaded from a file."""

    def __call__(self, code_bytes: int, radius: int | None = None) -> HashIndex: ...

    def load(self, path: Path) -> HashIndex: ...


#: Backends for pdq and phash, by the name `HASHWALL_INDEX_BACKEND` takes.
PERCEPTUAL_INDEXES: dict[str, PerceptualBackend] = {"mih": MIHIndex, "flat": FlatIndex}


def default_radius(signal_type: str) -> int | None:
    """The widest distance the default policy searches a signal type at."""
    thresholds = DEFAULT_THRESHOLDS.get(signal_type)
    return thresholds.review if thresholds else None


#: The columns of a `StoredHash`.
STORED_COLUMNS = (
    HashRecord.id,
    HashRecord.bank_id,
    HashRecord.signal_type,
    HashRecord.value,
    HashRecord.quality,
    HashRecord.confirmed,
)


@dataclass(frozen=True, slots=True)
class StoredHash:
    """What the live index keeps of one active hash."""

    id: int
    bank_id: int
    signal_type: str
    value: str
    quality: int | None
    confirmed: bool = True
    #: A video's frames (sequence types such as vpdq).
    frames: VideoHash | None = None
    #: An image's parts, when it was banked from media (pdq).
    parts: tuple[Variant, ...] = ()


def bank_policy(bank: Bank) -> BankPolicy:
    """The policy view of a bank row."""
    return BankPolicy(
        id=bank.id,
        name=bank.name,
        action=Action(bank.action),
        enabled=bank.enabled,
        queue_blocks=bank.queue_blocks,
        thresholds={
            signal: Thresholds(
                int(limits["match"]),
                int(limits["review"]),
                **{k: float(limits[k]) for k in ("query_share", "target_share") if k in limits},
            )
            for signal, limits in (bank.thresholds or {}).items()
        },
    )


class Catalogue:
    """Bank, quality and confirmation of each indexed hash, in arrays grown by doubling."""

    def __init__(self) -> None:
        self._bank = np.zeros(1024, dtype=np.int32)
        self._quality = np.full(1024, NO_QUALITY, dtype=np.int16)
        self._unconfirmed = np.zeros(1024, dtype=np.bool_)
        self._lock = threading.Lock()

    def set(
        self, ids: np.ndarray, banks: np.ndarray, qualities: np.ndarray, unconfirmed: np.ndarray
    ) -> None:
        """Record bank, quality (NO_QUALITY for none) and unconfirmed flags for ids."""
        if not len(ids):
            return
        with self._lock:
            self._bank = grow_to_fit(self._bank, ids, 0)
            self._quality = grow_to_fit(self._quality, ids, NO_QUALITY)
            self._unconfirmed = grow_to_fit(self._unconfirmed, ids, False)
            self._bank[ids] = banks
            self._quality[ids] = qualities
            self._unconfirmed[ids] = unconfirmed

    def confirm(self, ids: np.ndarray) -> None:
        """Mark indexed hashes confirmed (a moderator said so)."""
        with self._lock:
            known = ids[ids < len(self._unconfirmed)]
            self._unconfirmed[known] = False

    def save(self, path: Path) -> None:
        """Write the arrays to `path` (npz)."""
        with self._lock, open(path, "wb") as f:
            np.savez(f, bank=self._bank, quality=self._quality, unconfirmed=self._unconfirmed)

    def load(self, path: Path) -> None:
        """Replace the arrays with those `save` wrote."""
        with np.load(path) as data:
            bank, quality = data["bank"], data["quality"]
            # Snapshots written before feeds existed hold only confirmed hashes.
            unconfirmed = (
                data["unconfirmed"] if "unconfirmed" in data else np.zeros(len(bank), np.bool_)
            )
        with self._lock:
            self._bank, self._quality, self._unconfirmed = bank, quality, unconfirmed

    def lookup(self, hash_id: int) -> tuple[int, int | None, bool]:
        """(bank id, quality or None, confirmed) of an indexed hash."""
        quality = int(self._quality[hash_id])
        return (
            int(self._bank[hash_id]),
            None if quality == NO_QUALITY else quality,
            not self._unconfirmed[hash_id],
        )


class PartCatalogue:
    """The parts of indexed hashes: a video's frames, or an image's parts banked from
    media. Each indexed part gets a key of its own, dense like hash ids, which is what
    the parts' index holds; this says which hash and position a key is, and when each
    of a video's frames is (an image's parts have no time). Keys of removed hashes are
    not reused."""

    def __init__(self) -> None:
        self._owner = np.full(1024, -1, dtype=np.int64)
        self._position = np.zeros(1024, dtype=np.int32)
        self._next = 0
        self._videos: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        self._lock = threading.Lock()

    def allocate(self, hash_id: int, times: np.ndarray, positions: np.ndarray) -> np.ndarray:
        """Record a hash's part timestamps; return new keys for its indexed `positions`."""
        with self._lock:
            keys = np.arange(self._next, self._next + len(positions), dtype=np.int64)
            self._next += len(positions)
            self._owner = grow_to_fit(self._owner, keys, -1)
            self._position = grow_to_fit(self._position, keys, 0)
            self._position[keys] = positions
            self._owner[keys] = hash_id
            self._videos[hash_id] = (times.astype(np.float32), keys)
        return keys

    def keys(self, hash_ids: Iterable[int]) -> np.ndarray:
        """The keys of these hashes' indexed parts."""
        parts = [self._videos[i][1] for i in hash_ids if i in self._videos]
        return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)

    def drop(self, hash_ids: Iterable[int]) -> None:
        """Forget these hashes' parts."""
        with self._lock:
            for hash_id in hash_ids:
                _, keys = self._videos.pop(hash_id, (None, np.zeros(0, dtype=np.int64)))
                self._owner[keys] = -1

    def owners(self, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(hash ids, positions) of part keys."""
        owner, position = self._owner, self._position
        return owner[keys], position[keys]

    def get(self, hash_id: int) -> tuple[np.ndarray, int]:
        """(part timestamps, number of indexed parts) of an indexed hash."""
        times, keys = self._videos[hash_id]
        return times, len(keys)

    def save(self, path: Path) -> None:
        """Write the arrays to `path` (npz): part owners and positions by key, and each
        hash's part timestamps, concatenated."""
        with self._lock, open(path, "wb") as f:
            ids = list(self._videos)
            times = [self._videos[i][0] for i in ids]
            np.savez(
                f,
                owner=self._owner[: self._next],
                position=self._position[: self._next],
                ids=np.array(ids, dtype=np.int64),
                counts=np.array([len(t) for t in times], dtype=np.int64),
                times=np.concatenate(times) if times else np.zeros(0, np.float32),
            )

    def load(self, path: Path) -> None:
        """Replace the catalogue with what `save` wrote."""
        with np.load(path) as data:
            owner, position = data["owner"], data["position"]
            ids = data["ids"].tolist()
            times = np.split(data["times"], np.cumsum(data["counts"])[:-1]) if ids else []
        order = np.argsort(owner, kind="stable")
        starts = np.searchsorted(owner[order], ids, side="left")
        ends = np.searchsorted(owner[order], ids, side="right")
        keys = {i: order[a:b] for i, a, b in zip(ids, starts, ends, strict=True)}
        with self._lock:
            self._owner, self._position, self._next = owner.copy(), position.copy(), len(owner)
            self._videos = {
                i: (t, keys[i].astype(np.int64)) for i, t in zip(ids, times, strict=True)
            }


@dataclass(frozen=True, slots=True)
class PartHit:
    """A query code within some distance of an image's part."""

    hash_id: int
    part: str
    quality: int
    distance: int


class ImageParts:
    """The parts of images banked from media (crops, caption bands, small rotations; see
    `matcher.variants.bank_parts`), in one perceptual index of their own, each matching
    on behalf of its image's hash."""

    def __init__(self, index: HashIndex) -> None:
        self.index = index
        self.catalogue = PartCatalogue()
        #: Each indexed image's parts by position: the number of its name in `names`, and
        #: its quality (two small arrays an image: a media bank may hold many).
        self.described: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        self.names: list[str] = []
        self._numbers: dict[str, int] = {}

    def _number(self, name: str) -> int:
        if name not in self._numbers:
            self._numbers[name] = len(self.names)
            self.names.append(name)
        return self._numbers[name]

    def add(self, images: Iterable[StoredHash]) -> None:
        """Index the parts of these images, replacing any they had."""
        images = list(images)
        self.remove([image.id for image in images])
        for image in images:
            positions = np.arange(len(image.parts), dtype=np.int64)
            # Parts have no time of their own, unlike a video's frames.
            keys = self.catalogue.allocate(image.id, np.zeros(0), positions)
            self.index.add(keys, codes_from_bytes([p.code for p in image.parts], PDQ_BYTES))
            self.described[image.id] = (
                np.array([self._number(p.name) for p in image.parts], dtype=np.int16),
                np.array([p.quality for p in image.parts], dtype=np.int8),
            )

    def remove(self, hash_ids: Iterable[int]) -> None:
        """Stop matching these images' parts."""
        if not self.described:
            return  # a bank of feed hashes only: nothing to look through
        ids = list({i for i in hash_ids if i in self.described})
        if ids:
            self.index.remove(self.catalogue.keys(ids))
            self.catalogue.drop(ids)
            for hash_id in ids:
                del self.described[hash_id]

    def search(self, codes: np.ndarray, radius: int) -> list[list[PartHit]]:
        """For each query code, the parts within `radius`."""
        if not self.described:
            return [[] for _ in range(len(codes))]
        found = []
        for hits in self.index.search(codes, radius):
            keys = np.asarray(hits.ids, dtype=np.int64)
            owners, positions = self.catalogue.owners(keys)
            query_hits = []
            for hash_id, position, distance in zip(
                owners.tolist(), positions.tolist(), hits.distances, strict=True
            ):
                described = self.described.get(hash_id)
                if described is not None:  # not removed since the search
                    name, quality = described[0][position], described[1][position]
                    query_hits.append(
                        PartHit(hash_id, self.names[name], int(quality), int(distance))
                    )
            found.append(query_hits)
        return found

    def save(self, folder: Path) -> None:
        """Write the parts' index, catalogue and names into a snapshot folder."""
        self.index.save(folder / "image_parts.index")
        self.catalogue.save(folder / "image_parts.npz")
        ids = list(self.described)
        with open(folder / "image_parts_names.npz", "wb") as f:
            np.savez(
                f,
                ids=np.array(ids, dtype=np.int64),
                counts=np.array([len(self.described[i][0]) for i in ids], dtype=np.int64),
                names=np.concatenate(
                    [self.described[i][0] for i in ids] or [np.zeros(0, np.int16)]
                ),
                qualities=np.concatenate(
                    [self.described[i][1] for i in ids] or [np.zeros(0, np.int8)]
                ),
                vocabulary=np.array(self.names, dtype=str),
            )

    def load(self, folder: Path, loader: Callable[[Path], HashIndex]) -> None:
        """Replace everything with what `save` wrote."""
        index = loader(folder / "image_parts.index")
        self.catalogue.load(folder / "image_parts.npz")
        with np.load(folder / "image_parts_names.npz") as data:
            ids, splits = data["ids"].tolist(), np.cumsum(data["counts"])[:-1]
            names, qualities = np.split(data["names"], splits), np.split(data["qualities"], splits)
            vocabulary = data["vocabulary"].tolist()
        self.index = index
        self.names, self._numbers = vocabulary, {n: i for i, n in enumerate(vocabulary)}
        self.described = (
            dict(zip(ids, zip(names, qualities, strict=True), strict=True)) if ids else {}
        )


class LiveIndex:
    """Indexes, catalogue and bank policies for every signal type of a registry.

    A sequence type's index (vpdq) holds the frames of its videos, under keys that
    `videos` maps back to the video and the frame."""

    def __init__(self, registry: Registry, perceptual: PerceptualBackend = MIHIndex) -> None:
        self.registry = registry
        self.perceptual = perceptual
        self.reset()

    def reset(self) -> None:
        """Empty indexes, catalogue and bank policies."""
        registry, perceptual = self.registry, self.perceptual
        # A perceptual index is laid out for the radius searched most: the signal's widest
        # default distance (banks may set others; every radius stays exact).
        self.indexes: dict[str, HashIndex] = {
            t.name: (
                perceptual(t.code_bytes, default_radius(t.name))
                if t.perceptual or t.sequence
                else ExactIndex(t.code_bytes)
            )
            for t in registry
        }
        self.catalogue = Catalogue()
        self.videos = PartCatalogue()
        # Parts count within the match distance only: their index is laid out for it.
        self.image_parts = ImageParts(perceptual(PDQ_BYTES, DEFAULT_THRESHOLDS["pdq"].match))
        self.banks: Mapping[int, BankPolicy] = {}
        #: Names of banks whose blocks are queued for review too.
        self.queue_blocks: frozenset[str] = frozenset()
        #: Hashes that may not block (flood quarantine, `app.review.flood`).
        self.quarantined: frozenset[int] = frozenset()
        self.loaded = False

    def load(self, session: Session) -> None:
        """Fill the indexes from every active hash in the database."""
        self.refresh_banks(session)
        active = select(*STORED_COLUMNS).where(HashRecord.status == "active")
        with_parts = owners_with_parts(session)
        rows = session.execute(active.execution_options(yield_per=LOAD_CHUNK))
        total = 0
        for chunk in rows.partitions():
            batch = self._attached(session, [StoredHash(*row) for row in chunk], with_parts)
            self.add(batch)
            total += len(batch)
        self.loaded = True
        log.info("index loaded", extra={"hashes": total, "sizes": self.sizes()})

    def refresh_banks(self, session: Session) -> None:
        """Reload bank policies (after a bank is created, changed or deleted), and the
        quarantined hashes with them."""
        self.banks = {bank.id: bank_policy(bank) for bank in session.scalars(select(Bank))}
        self.queue_blocks = frozenset(b.name for b in self.banks.values() if b.queue_blocks)
        self.refresh_quarantine(session)

    def refresh_quarantine(self, session: Session) -> None:
        """Reload the hashes that may not block (after a quarantine or a release)."""
        self.quarantined = holding(session)

    def _attached(
        self, session: Session, hashes: list[StoredHash], with_parts: set[int] | None = None
    ) -> list[StoredHash]:
        return attach_stored(session, hashes, self.registry.sequences, with_parts)

    def add(self, hashes: Iterable[StoredHash]) -> None:
        """Index active hashes (replacing any code already under the same id)."""
        by_type: dict[str, list[StoredHash]] = {}
        for stored in hashes:
            by_type.setdefault(stored.signal_type, []).append(stored)
        for signal_name, group in by_type.items():
            signal_type = self.registry.get(signal_name)
            ids = np.fromiter((h.id for h in group), dtype=np.int64, count=len(group))
            if signal_type.sequence:
                self._add_videos(signal_name, group)
            else:
                codes = codes_from_bytes(
                    [bytes.fromhex(h.value) for h in group], signal_type.code_bytes
                )
                self.indexes[signal_name].add(ids, codes)
            if signal_name == "pdq":
                self.image_parts.remove(h.id for h in group if not h.parts)
                self.image_parts.add(h for h in group if h.parts)
            self.catalogue.set(
                ids,
                np.fromiter((h.bank_id for h in group), dtype=np.int32, count=len(group)),
                np.fromiter(
                    (NO_QUALITY if h.quality is None else h.quality for h in group),
                    dtype=np.int16,
                    count=len(group),
                ),
                np.fromiter((not h.confirmed for h in group), dtype=np.bool_, count=len(group)),
            )

    def _add_videos(self, signal_name: str, videos: list[StoredHash]) -> None:
        """Index each video's frames that can match: a flat frame (a fade, a black
        screen, a title card) would match countless other videos."""
        pdq = self.registry.get("pdq")
        index = self.indexes[signal_name]
        index.remove(self.videos.keys(v.id for v in videos))
        for video in videos:
            frames = video.frames.frames if video.frames is not None else ()
            usable = np.array(
                [
                    position
                    for position, frame in enumerate(frames)
                    if frame.quality >= MIN_FRAME_QUALITY
                    and not pdq.is_degenerate(frame.code, frame.quality)
                ],
                dtype=np.int64,
            )
            self.videos.drop([video.id])
            keys = self.videos.allocate(video.id, np.array([f.timestamp for f in frames]), usable)
            if len(usable):
                codes = codes_from_bytes([frames[p].code for p in usable], pdq.code_bytes)
                index.add(keys, codes)

    def remove(self, signal_type: str, ids: Iterable[int]) -> int:
        """Stop matching hashes of one signal type."""
        wanted = np.fromiter(ids, dtype=np.int64)
        if signal_type == "pdq":
            self.image_parts.remove(wanted.tolist())
        if not self.registry.get(signal_type).sequence:
            return self.indexes[signal_type].remove(wanted)
        removed = self.indexes[signal_type].remove(self.videos.keys(wanted.tolist()))
        self.videos.drop(wanted.tolist())
        return removed

    def sync(self, session: Session, hash_ids: Sequence[int]) -> None:
        """Bring these hashes in line with the database: index the active ones, drop the
        rest (withdrawn, deleted, or gone with their bank) from every index."""
        active: list[StoredHash] = []
        for start in range(0, len(hash_ids), SYNC_CHUNK):
            chunk = hash_ids[start : start + SYNC_CHUNK]
            # Status is filtered here, not in SQL: with statistics stale after a bulk load,
            # PostgreSQL planned `status = 'active' AND id IN (...)` as a scan of every
            # active hash (145 ms a chunk at 1M) instead of primary key lookups.
            rows = session.execute(
                select(*STORED_COLUMNS, HashRecord.status).where(HashRecord.id.in_(chunk))
            )
            active.extend(StoredHash(*row[:-1]) for row in rows if row[-1] == "active")
        kept = {stored.id for stored in active}
        gone = [i for i in hash_ids if i not in kept]
        if gone:
            for name in self.indexes:
                self.remove(name, gone)
        self.add(self._attached(session, active))

    def search(
        self, signal_type: str, codes: list[bytes], radius: int, parts_radius: int | None = None
    ) -> list[list[Candidate]]:
        """Candidates within `radius` of each query code; for pdq with a `parts_radius`,
        also the images banked from media one of whose parts lies within it."""
        code_bytes = self.registry.get(signal_type).code_bytes
        queries = codes_from_bytes(codes, code_bytes)
        hits = self.indexes[signal_type].search(queries, radius)
        results = []
        for query_hits in hits:
            candidates = []
            for hash_id, distance in query_hits.pairs():
                bank_id, quality, confirmed = self.catalogue.lookup(hash_id)
                candidates.append(
                    Candidate(hash_id, bank_id, signal_type, distance, quality, confirmed)
                )
            results.append(candidates)
        if signal_type == "pdq" and parts_radius is not None:
            for candidates, part_hits in zip(
                results, self.image_parts.search(queries, parts_radius), strict=True
            ):
                for hit in part_hits:
                    bank_id, _, confirmed = self.catalogue.lookup(hit.hash_id)
                    candidates.append(
                        Candidate(
                            hit.hash_id,
                            bank_id,
                            signal_type,
                            hit.distance,
                            hit.quality,
                            confirmed,
                            part=hit.part,
                        )
                    )
        return results

    def search_video(self, signal_type: str, video: VideoHash, radius: int) -> list[Candidate]:
        """Banked videos some of whose frames lie within `radius` of the query's frames
        (those of quality MIN_FRAME_QUALITY or more), each with the frame pairs found."""
        pdq = self.registry.get("pdq")
        searched = [
            f
            for f in video.frames
            if f.quality >= MIN_FRAME_QUALITY and not pdq.is_degenerate(f.code, f.quality)
        ]
        if not searched:
            return []
        hits = self.indexes[signal_type].search(
            codes_from_bytes([f.code for f in searched], pdq.code_bytes), radius
        )
        query_frame = np.concatenate(
            [np.full(len(h.ids), n, dtype=np.int64) for n, h in enumerate(hits)]
        )
        keys = np.concatenate([np.asarray(h.ids, dtype=np.int64) for h in hits])
        distance = np.concatenate([np.asarray(h.distances, dtype=np.int64) for h in hits])
        owner, position = self.videos.owners(keys)
        query_times = np.array([f.timestamp for f in searched])
        candidates = []
        for hash_id in np.unique(owner[owner >= 0]).tolist():
            mine = owner == hash_id
            bank_id, quality, confirmed = self.catalogue.lookup(hash_id)
            try:
                times, indexed = self.videos.get(hash_id)
            except KeyError:
                continue  # removed since the search
            evidence = FramePairs(
                query_times,
                times,
                indexed,
                query_frame[mine],
                position[mine].astype(np.int64),
                distance[mine],
            )
            candidates.append(
                Candidate(
                    hash_id,
                    bank_id,
                    signal_type,
                    int(distance[mine].min()),
                    quality,
                    confirmed,
                    frames=evidence,
                )
            )
        return candidates

    def loaders(self) -> dict[str, Callable[[Path], HashIndex]]:
        """How each signal type's index is read back from a snapshot file."""
        return {
            t.name: self.perceptual.load if t.perceptual or t.sequence else ExactIndex.load
            for t in self.registry
        }

    def sizes(self) -> dict[str, int]:
        """Indexed hashes per signal type."""
        return {name: len(index) for name, index in self.indexes.items()}
