"""Judging recorded uploads as their verdicts would be given now: each upload's recorded
hashes (its own and its candidates) matched against the banks' index with the very
policy an upload gets, keeping the matches of the hashes the sweep is looking for that
the upload's own verdict never saw."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from app.ledger.hits import Found
from app.ledger.store import Entry
from app.live_index import LiveIndex
from app.matching import Query, match_subjects, parse_signal
from app.policy import Action
from matcher.errors import MatcherError
from matcher.signals import Signal


@dataclass(frozen=True, slots=True)
class Recording:
    """One upload of a content id: the rows recorded together."""

    content_id: str
    recorded_at: datetime
    seen_seq: int
    entries: tuple[Entry, ...]

    def saw(self, hash_id: int, seq: int) -> bool:
        """Whether this upload's verdict was given with the hash already in its index."""
        return seq <= self.seen_seq or any(hash_id in e.matched for e in self.entries)


def recordings(entries: Iterable[Entry]) -> list[Recording]:
    """Rows grouped into the uploads they were recorded with."""
    grouped: dict[tuple[str, datetime, int], list[Entry]] = defaultdict(list)
    for entry in entries:
        grouped[entry.content_id, entry.recorded_at, entry.seen_seq].append(entry)
    return [Recording(c, at, seen, tuple(rows)) for (c, at, seen), rows in grouped.items()]


def judge(banks: LiveIndex, uploads: Sequence[Recording], targets: dict[int, int]) -> list[Found]:
    """Match each upload against the banks as its verdict would be given now, and keep
    the matches of targets (hash id: the change that made it active) it never saw."""
    subjects: list[tuple[Recording, list[Query]]] = []
    for upload in uploads:
        if any(seq > upload.seen_seq for seq in targets.values()):
            subjects.append((upload, queries_of(banks, upload)))
    verdicts = match_subjects(banks, [queries for _, queries in subjects])
    found = []
    for (upload, _), verdict in zip(subjects, verdicts, strict=True):
        if verdict.action is Action.ALLOW:
            continue  # an allow bank lists it as a known false positive
        own = tuple(
            (e.signal_type, e.value, e.quality) for e in upload.entries if e.candidate is None
        )
        for match in verdict.matches:
            seq = targets.get(match.hash_id)
            if seq is None or upload.saw(match.hash_id, seq) or match.action is Action.ALLOW:
                continue
            found.append(
                Found(
                    upload.content_id,
                    match.hash_id,
                    match.bank,
                    match.signal_type,
                    match.distance,
                    match.variant or "original",
                    match.action.value,
                    match.reason.value,
                    upload.recorded_at,
                    seq,
                    own,
                )
            )
    return found


def queries_of(banks: LiveIndex, upload: Recording) -> list[Query]:
    """An upload's recorded hashes as the queries its verdict was given on."""
    queries = []
    for entry in upload.entries:
        if entry.signal_type not in banks.indexes:
            continue
        signal = Signal(
            entry.signal_type,
            entry.value,
            entry.quality,
            entry.candidate,
            detailed=entry.detailed,
        )
        try:
            queries.append(parse_signal(banks.registry, signal))
        except MatcherError:
            continue  # recorded by a version that parsed it; nothing to match now
    return queries
