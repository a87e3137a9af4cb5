"""From submitted or computed hashes to verdicts: parse, search, apply the policy.

The routes and the CLI call these functions; they know nothing of HTTP.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from app.errors import InvalidInput
from app.live_index import LiveIndex
from app.policy import (
    DEGENERATE,
    NO_MATCH,
    BankPolicy,
    Candidate,
    Verdict,
    decide,
    match_radius,
    search_radius,
    video_review_band,
)
from matcher.candidates import extrapolated
from matcher.errors import MatcherError
from matcher.signals import Registry, Signal
from matcher.video_hash import VideoHash


@dataclass(frozen=True, slots=True)
class Query:
    """One parsed hash to look up."""

    signal_type: str
    code: bytes
    value: str  # the canonical text form of `code`
    quality: int | None
    degenerate: bool
    variant: str | None = None  # a query-side candidate of an upload (see matcher.variants)
    frames: VideoHash | None = None  # a video's frames (vpdq)
    detailed: bool | None = None  # a picture hashwall hashed: see matcher.variants.detail


#: Why a degenerate hash is refused at ingest.
DEGENERATE_DETAIL = "degenerate hash: it would match countless images"


def parse_signal(registry: Registry, signal: Signal) -> Query:
    """Validate a signal's text form; raise `MatcherError` if it is not a valid hash."""
    signal_type = registry.get(signal.signal_type)
    code = signal_type.parse(signal.value)
    return Query(
        signal.signal_type,
        code,
        signal_type.format(code),
        signal.quality,
        signal_type.is_degenerate(code, signal.quality),
        signal.variant,
        signal_type.parse_frames(signal.value) if signal_type.sequence else None,
        signal.detailed,
    )


def parse_items(
    registry: Registry, signals: Sequence[Signal], pointer: str = "/items"
) -> list[Query]:
    """Parse every item, reporting every invalid one by its position, or none at all."""
    queries, errors = [], []
    for position, signal in enumerate(signals):
        try:
            queries.append(parse_signal(registry, signal))
        except MatcherError as error:
            errors.append({"pointer": f"{pointer}/{position}", "detail": str(error)})
    if errors:
        summary = "; ".join(f"{e['pointer']}: {e['detail']}" for e in errors[:5])
        more = f" (and {len(errors) - 5} more)" if len(errors) > 5 else ""
        raise InvalidInput(f"{len(errors)} invalid item(s): {summary}{more}", errors)
    return queries


def with_second_look(signals: Sequence[Signal], exact: Sequence[Signal]) -> list[Signal]:
    """A file's signals with the candidates hashed again on the turned-back picture in
    place of the derived ones of the same names."""
    redone = {s.variant for s in exact}
    return [s for s in signals if s.variant not in redone] + list(exact)


def _own_pdq(hashes: Sequence[Signal] | Sequence[Query]) -> Signal | Query | None:
    """A picture's own pdq hash among its hashes (not a candidate's), if it has one."""
    return next((h for h in hashes if h.signal_type == "pdq" and not h.variant), None)


def picture_quality(hashes: Sequence[Signal] | Sequence[Query]) -> int | None:
    """The pdq quality of a picture's own hash among its hashes, if it has one: how far
    its other perceptual hashes can be trusted (a flat picture's phash collides with
    countless others)."""
    own = _own_pdq(hashes)
    return own.quality if own is not None else None


def picture_detailed(hashes: Sequence[Signal] | Sequence[Query]) -> bool | None:
    """Whether a picture hashwall hashed has the detail its extra candidates and the
    parts it matches need (see `matcher.variants.detail`); None when not known."""
    own = _own_pdq(hashes)
    return own.detailed if own is not None else None


def _radius(banks: Iterable[BankPolicy], signal_type: str, match_only: bool) -> int | None:
    """How far to search a query: as far as any bank could act on it, or for a candidate
    that counts only within the match distance, that far."""
    if match_only:
        return match_radius(banks, signal_type)
    return search_radius(banks, signal_type)


def match_subjects(live: LiveIndex, subjects: Sequence[Sequence[Query]]) -> list[Verdict]:
    """One verdict per subject (a submitted hash, or all the hashes of one file).

    Queries are grouped by signal type so each index is searched once per batch; a
    video's frames are searched together. Degenerate hashes are never looked up.
    Candidates that extrapolate an image (`matcher.candidates.extrapolated`) count only
    within the match distance (policy rule 7), and so do a video's derived orientations
    (rule 8), so they are searched no further.
    """
    banks = live.banks
    found: list[list[Candidate]] = [[] for _ in subjects]
    pending: dict[tuple[str, bool], list[tuple[int, Query]]] = defaultdict(list)
    owns = [_own_pdq(subject) for subject in subjects]
    for position, subject in enumerate(subjects):
        for query in subject:
            if query.frames is not None:
                match_only = not video_review_band(query.variant)
                radius = _radius(banks.values(), query.signal_type, match_only)
                if radius is not None:
                    found[position].extend(
                        replace(c, variant=query.variant)
                        for c in live.search_video(query.signal_type, query.frames, radius)
                    )
            elif not query.degenerate and not live.registry.get(query.signal_type).sequence:
                guess = query.variant is not None and extrapolated(query.variant)
                pending[query.signal_type, guess].append((position, query))
    for (signal_type, guess), entries in pending.items():
        radius = _radius(banks.values(), signal_type, guess)
        if radius is None:
            continue
        results = live.search(
            signal_type,
            [query.code for _, query in entries],
            radius,
            match_radius(banks.values(), "pdq"),
        )
        for (position, query), candidates in zip(entries, results, strict=True):
            own = owns[position]
            quality = query.quality if query.quality is not None or own is None else own.quality
            detailed = own.detailed if own is not None else None
            found[position].extend(
                replace(c, query_quality=quality, variant=query.variant, query_detailed=detailed)
                for c in candidates
            )
    verdicts = []
    for subject, candidates in zip(subjects, found, strict=True):
        verdict = decide(candidates, banks, live.quarantined)
        if verdict is NO_MATCH and any(q.degenerate for q in subject):
            verdict = DEGENERATE
        verdicts.append(verdict)
    return verdicts
