"""Verdicts as pure functions of the matches found and the banks' settings.

The rules, in order:

1. A bank that is disabled, or that the hash no longer belongs to, never matches.
2. Per bank and signal type there are two distances. At or under `match`, the bank's
   action applies; over it and at or under `review`, the verdict is at most `review`.
3. A pdq hash (query or stored) of quality under 50 is too flat to trust: `review` at most.
   So is the pdq hash of an upload hashwall found flat (`matcher.variants.detail`: a
   drawing of a few shapes on a plain ground), whatever its quality: pdq's quality
   measures gradients, which a line drawing has in plenty, yet distinct drawings of one
   shape (two artists' flowchart cylinders) come within 20 bits. Photos are almost never
   flat: of 108 real photos, 0-2 copies per transform measured flat, and those still go to
   review (benchmarks/RESULTS.md, "Variants").
4. Across banks the strictest action wins (block > review > allow)...
5. ...except that a match within an enabled allow bank's `match` distance overrides it
   all to `allow`: allow banks list known false positives.
6. A hash from an unconfirmed feed causes `review` at most until a moderator confirms it.
7. An upload's extra candidates (mirrored, rotated, trimmed, found inside a canvas,
   caption filled in; see `matcher/variants.py`), and the parts of an image banked from
   media (its crops, caption bands and small rotations), count only when the candidate
   (or part) has quality 50 or more (40 for the whole upload's other orientations,
   which carry its own quality: re-encoding and blur lower it by a few points; under 50
   rule 3 still holds them to review), the upload is not known to be flat (a drawing of
   a few shapes, whose hashes collide with other drawings'), and the stored hash is not
   known to be weaker. A derived orientation or a part counts only within the `match`
   distance, never in the review band, and so does the upload padded out as if it were
   a crop (`uncropped1.1:original`) or turned back from a small rotation
   (`unrotated:original`), whose filled-in border pdq sees but the upload does not have; a view in
   the upload's own orientation (`trimmed:original`, `uncaptioned:original`), hashed on
   the upload's own pixels as its own hash is, earns the review band too. Each is one
   more chance of a false match; this keeps their share small (benchmarks/RESULTS.md,
   "Variants"). A part blocks only within PART_BLOCK_DISTANCE; further out, within
   `match`, it asks for review.
8. A video (vpdq) matches a banked video when enough of its frames match: at least
   `query_share` percent of the query's frames, or `target_share` percent of the banked
   video's, and at least MIN_VIDEO_FRAMES frames of it (all of them if it has fewer),
   counting frame pairs within `match` bits; within `review` bits, the same shares give
   `review` at most. A clip cut from a banked video has a high query share; a video that
   contains a banked one whole, a high banked share. Frames under quality 50 count on
   neither side. A derived orientation of the query (mirrored, rotated) counts within
   `match` only, like rule 7. A candidate in the video's own orientation (its frames
   trimmed of bars, or padded out as if cropped) also earns the review band, which a
   single image's padded-out candidate does not: a video needs a share of its frames to
   come close, frame after frame, and a padded-out frame of a 5% crop lands 30-50 bits
   from the original's (benchmarks/RESULTS.md, "Video").
9. phash alone never blocks: `review` at most (reason `secondary_signal`), and a phash
   match of an upload whose pdq quality is under 50 does not count at all. Measured
   among 6.9 million pairs of distinct images of quality >= 50, 59 came within phash's 4
   bits (1 within pdq's 31); on flat drawings, tens of thousands did.
10. A quarantined hash (one that matched far more than its baseline: `app.review.flood`)
   causes `review` at most (reason `quarantined`) until a moderator lifts it.

Why pdq 31/47 (benchmarks/RESULTS.md, "Thresholds"): on real photos re-encoded,
resized, blurred, gamma-shifted, noised or made grey, 92-99% of copies stay within 31
bits of the original (the industry's confident threshold) and 97-99% within 47, the
most any wider bound recovers. Among 4.9 million pairs of distinct images of quality
>= 50, one pair came within 31 bits, three within 47 and 38 within 63: widening the
review band from 47 to 63 would bring moderators 13 times the false candidates for
under 2% more recall. Between 31 and 47 a person looks.

Why phash 4/8, review only: phash collides far more often. Across the same distinct
pairs, 40 came within 4 bits, 96 within 6 and 553 within 10, while copies mostly stay
within 4 (87-99%) and 8 (97-100%). It is a secondary signal: a person looks (rule 9).

Why vpdq 31/47 and 50%/50%: frames are pdq hashes, with pdq's distances. The shares are
lower than vpdq's own 80% query share so that a copy whose sampling points fall between
the original's (after an intro, on fast motion) or that was re-encoded hard still
matches (benchmarks/RESULTS.md, "Video"); requiring several frames keeps a single shared
shot from matching.

`POLICY_VERSION` is written with every verdict; change it whenever these rules or the
defaults change, so a verdict can always be explained by the rules it was given under.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum

from matcher.candidates import MIN_TURNED_QUALITY, extrapolated, own_orientation
from matcher.video_match import FramePairs, VideoMatch, compare

POLICY_VERSION = "2026.12.04"
#: Signals that collide too often to block on their own (rule 9).
SECONDARY_SIGNALS = frozenset({"phash"})
#: pdq hashes under this quality never cause an automatic block.
MIN_BLOCK_QUALITY = 50
#: A part of an image banked from media blocks only this close; up to the bank's match
#: distance it asks for review (rule 7). Measured (benchmarks/RESULTS.md, "Variants"):
#: of the blocks only a part decided, 81% on true copies were within 24 bits, against 42%
#: on distinct images, whose own hashes were 91 bits apart at the median.
PART_BLOCK_DISTANCE = 24
#: A video match needs at least this many matched frames of the banked video (rule 8).
MIN_VIDEO_FRAMES = 3


class Action(StrEnum):
    """What a bank asks for, and what a verdict says."""

    ALLOW = "allow"
    REVIEW = "review"
    BLOCK = "block"

    @property
    def severity(self) -> int:
        """Order of strictness: allow < review < block."""
        return _SEVERITY[self]


_SEVERITY = {Action.ALLOW: 0, Action.REVIEW: 1, Action.BLOCK: 2}


class Reason(StrEnum):
    """The machine-readable reason class carried by every verdict."""

    NO_MATCH = "no_match"
    MATCHED = "matched"
    NEAR_MATCH = "near_match"
    LOW_QUALITY = "low_quality"
    UNCONFIRMED = "unconfirmed_source"
    SECONDARY = "secondary_signal"
    ALLOWLISTED = "allowlisted"
    DEGENERATE = "degenerate_hash"
    QUARANTINED = "quarantined"


@dataclass(frozen=True, slots=True)
class Thresholds:
    """Inclusive distances: `match` applies the bank's action, `review` caps at review.
    For videos, also the shares (percent) of frames that must match (rule 8)."""

    match: int
    review: int
    query_share: float | None = None
    target_share: float | None = None


DEFAULT_THRESHOLDS: dict[str, Thresholds] = {
    "pdq": Thresholds(match=31, review=47),
    "phash": Thresholds(match=4, review=8),
    "md5": Thresholds(match=0, review=0),
    "sha256": Thresholds(match=0, review=0),
    "vpdq": Thresholds(match=31, review=47, query_share=50.0, target_share=50.0),
}


@dataclass(frozen=True, slots=True)
class BankPolicy:
    """What the policy needs to know about one bank."""

    id: int
    name: str
    action: Action
    enabled: bool
    thresholds: Mapping[str, Thresholds] = field(default_factory=dict)
    #: Blocks are queued for review after the fact, as reviews are.
    queue_blocks: bool = False

    def thresholds_for(self, signal_type: str) -> Thresholds:
        """This bank's distances for a signal type, falling back to the defaults."""
        return self.thresholds.get(signal_type) or DEFAULT_THRESHOLDS[signal_type]


@dataclass(frozen=True, slots=True)
class Candidate:
    """A stored hash found within some bank's review distance of a query hash."""

    hash_id: int
    bank_id: int
    signal_type: str
    distance: int
    stored_quality: int | None = None
    #: False for a hash from an unconfirmed feed that no moderator has confirmed yet.
    confirmed: bool = True
    #: The quality of the query hash that found it.
    query_quality: int | None = None
    #: Set when a query-side candidate of an upload (mirrored, trimmed, ...) found it.
    variant: str | None = None
    #: For a video: the frame pairs found between the query and the banked video.
    frames: FramePairs | None = None
    #: Set when a part of an image banked from media (`crop90:2.5`, ...) was found.
    part: str | None = None
    #: False when the upload hashwall hashed is too flat for extra candidates and parts
    #: (`matcher.variants.detail`); None when not known (a submitted hash).
    query_detailed: bool | None = None


@dataclass(frozen=True, slots=True)
class Match:
    """A candidate that counts, with the action it carries after the rules."""

    hash_id: int
    bank: str
    signal_type: str
    distance: int
    action: Action
    reason: Reason
    variant: str | None = None
    #: For a video: the shares and time ranges that matched.
    video: VideoMatch | None = None
    #: The part of the banked image that matched, when not the image's own hash.
    part: str | None = None


@dataclass(frozen=True, slots=True)
class Verdict:
    """The answer for one item or file."""

    action: Action
    reason: Reason
    matches: tuple[Match, ...] = ()
    #: Derived orientations that came within the review distance without counting: worth
    #: hashing again on the turned-back picture (see `matcher.variants.exact_variants`).
    near_variants: tuple[str, ...] = ()


NO_MATCH = Verdict(Action.ALLOW, Reason.NO_MATCH)
DEGENERATE = Verdict(Action.ALLOW, Reason.DEGENERATE)


def search_radius(banks: Iterable[BankPolicy], signal_type: str) -> int | None:
    """The widest review distance among enabled non-allow banks and allow banks' match
    distances for `signal_type`; None when no enabled bank could match."""
    radii = [
        bank.thresholds_for(signal_type).match
        if bank.action is Action.ALLOW
        else bank.thresholds_for(signal_type).review
        for bank in banks
        if bank.enabled
    ]
    return max(radii) if radii else None


def match_radius(banks: Iterable[BankPolicy], signal_type: str) -> int | None:
    """The widest match distance among enabled banks for `signal_type`: parts of images
    banked from media, and candidates that extrapolate an upload, count within it only
    (rule 7); None when no enabled bank could match."""
    radii = [bank.thresholds_for(signal_type).match for bank in banks if bank.enabled]
    return max(radii) if radii else None


def _is_low_quality(quality: int | None) -> bool:
    return quality is not None and quality < MIN_BLOCK_QUALITY


def judge(candidate: Candidate, bank: BankPolicy) -> Match | None:
    """Apply the rules to one candidate; None when it does not count."""
    if not bank.enabled:
        return None
    limits = bank.thresholds_for(candidate.signal_type)
    if candidate.frames is not None:
        return _judge_video(candidate, bank, limits)
    query_quality = candidate.query_quality
    if candidate.signal_type in SECONDARY_SIGNALS and _is_low_quality(query_quality):
        return None  # Rule 9: on a flat picture phash says nothing.
    if (candidate.variant is not None or candidate.part is not None) and (
        not _strong_pair(candidate) or candidate.distance > _reach(candidate, limits)
    ):
        return None  # Rule 7.
    if candidate.distance <= limits.match:
        action, reason = bank.action, Reason.MATCHED
    elif candidate.distance <= limits.review and bank.action is not Action.ALLOW:
        action, reason = Action.REVIEW, Reason.NEAR_MATCH
    else:
        return None
    if action is Action.ALLOW:
        reason = Reason.ALLOWLISTED
    elif (
        action is Action.BLOCK
        and candidate.signal_type == "pdq"
        and (
            _is_low_quality(query_quality)
            or _is_low_quality(candidate.stored_quality)
            or candidate.query_detailed is False
        )
    ):
        action, reason = Action.REVIEW, Reason.LOW_QUALITY
    elif action is Action.BLOCK and not candidate.confirmed:
        action, reason = Action.REVIEW, Reason.UNCONFIRMED
    elif action is Action.BLOCK and candidate.signal_type in SECONDARY_SIGNALS:
        action, reason = Action.REVIEW, Reason.SECONDARY
    elif action is Action.BLOCK and candidate.part and candidate.distance > PART_BLOCK_DISTANCE:
        action, reason = Action.REVIEW, Reason.NEAR_MATCH
    return Match(
        candidate.hash_id,
        bank.name,
        candidate.signal_type,
        candidate.distance,
        action,
        reason,
        candidate.variant,
        part=candidate.part,
    )


def decide(
    candidates: Iterable[Candidate],
    banks: Mapping[int, BankPolicy],
    quarantined: frozenset[int] = frozenset(),
) -> Verdict:
    """The verdict for one item or file from every candidate of every signal type;
    `quarantined` hash ids may not block (rule 10)."""
    best: dict[tuple[int, str, str], Match] = {}
    near: dict[str, None] = {}
    for candidate in candidates:
        bank = banks.get(candidate.bank_id)
        if bank is None:
            continue
        match = judge(candidate, bank)
        if match is None:
            if _worth_a_second_look(candidate, bank):
                near[candidate.variant or ""] = None
            continue
        if match.action is Action.BLOCK and match.hash_id in quarantined:
            match = replace(match, action=Action.REVIEW, reason=Reason.QUARANTINED)
        # A stored hash found by several candidates of one upload counts once: by the
        # strictest action any of them earned, then by the upload's own hash if it found
        # it, its own picture before a part, the closest.
        key = (match.hash_id, match.bank, match.signal_type)
        held = best.get(key)
        if held is None or _weight(match) > _weight(held):
            best[key] = match
    matches = list(best.values())
    if not matches:
        return Verdict(Action.ALLOW, Reason.NO_MATCH, (), tuple(near)) if near else NO_MATCH
    # Strictest first; among equals, the upload's own hash, then the closest, explains it.
    matches.sort(
        key=lambda m: (
            m.action is not Action.ALLOW,
            -m.action.severity,
            m.variant is not None,
            m.part is not None,
            m.distance,
        )
    )
    deciding = matches[0]
    return Verdict(deciding.action, deciding.reason, tuple(matches), tuple(near))


def _weight(match: Match) -> tuple[int, bool, bool, int]:
    return (match.action.severity, match.variant is None, match.part is None, -match.distance)


def _judge_video(candidate: Candidate, bank: BankPolicy, limits: Thresholds) -> Match | None:
    """Rule 8: a video candidate counts by the shares of frames that match."""
    assert candidate.frames is not None
    needed = min(MIN_VIDEO_FRAMES, candidate.frames.target_usable)
    defaults = DEFAULT_THRESHOLDS["vpdq"]
    query_share = defaults.query_share if limits.query_share is None else limits.query_share
    target_share = defaults.target_share if limits.target_share is None else limits.target_share
    assert query_share is not None and target_share is not None

    def enough(found: VideoMatch | None) -> bool:
        return (
            found is not None
            and found.matched_frames >= needed
            and (found.query_share >= query_share or found.target_share >= target_share)
        )

    found = compare(candidate.frames, limits.match)
    if enough(found):
        action = bank.action
        reason = Reason.ALLOWLISTED if action is Action.ALLOW else Reason.MATCHED
        if action is Action.BLOCK and not candidate.confirmed:
            action, reason = Action.REVIEW, Reason.UNCONFIRMED
    elif video_review_band(candidate.variant) and bank.action is not Action.ALLOW:
        found = compare(candidate.frames, limits.review)
        if not enough(found):
            return None
        action, reason = Action.REVIEW, Reason.NEAR_MATCH
    else:
        return None
    assert found is not None
    return Match(
        candidate.hash_id,
        bank.name,
        candidate.signal_type,
        found.distance,
        action,
        reason,
        candidate.variant,
        found,
    )


def video_review_band(variant: str | None) -> bool:
    """Rule 8: whether a video's candidate counts within the review distance (the video
    itself, or a candidate in its own orientation: trimmed of bars, padded out), not only
    within the match distance (a derived orientation). Matching searches each candidate
    as far as this says it counts."""
    return variant is None or own_orientation(variant)


def _reach(candidate: Candidate, limits: Thresholds) -> int:
    """How far an extra candidate or a part counts (rule 7): a view of the upload in its
    own orientation (`trimmed:original`, `uncaptioned:original`, ...) is hashed by the
    reference on the upload's own pixels, as its own hash is, and earns the same review
    band; a derived orientation or a part, the match distance only."""
    view = candidate.part is None and _unturned(candidate.variant)
    return limits.review if view else limits.match


def _unturned(variant: str | None) -> bool:
    """Whether a candidate is a view of the upload in its own orientation hashed on its
    own pixels, not a derived orientation nor a view that extrapolates the upload."""
    return variant is not None and own_orientation(variant) and not extrapolated(variant)


def _whole_orientation(variant: str | None) -> bool:
    """Whether a candidate is the whole upload turned (`mirrored`, `rotated_180`, ...),
    not a view of it (`trimmed:mirrored`): views are named `view:orientation`."""
    return variant is not None and ":" not in variant


def _strong_pair(candidate: Candidate) -> bool:
    """Rule 7's gate on an extra candidate or a part: the query is strong (a whole
    picture's orientation, nearly so) and not known to be flat, and the stored hash is not
    known to be weak (feeds rarely send a quality)."""
    turned = candidate.part is None and _whole_orientation(candidate.variant)
    floor = MIN_TURNED_QUALITY if turned else MIN_BLOCK_QUALITY
    return (
        candidate.query_quality is not None
        and candidate.query_quality >= floor
        and candidate.query_detailed is not False
        and not _is_low_quality(candidate.stored_quality)
    )


def _worth_a_second_look(candidate: Candidate, bank: BankPolicy) -> bool:
    """A derived orientation of a strong upload within the review distance of a bank that
    could block: turned back exactly, it may come within the match distance."""
    # Only a derived orientation is hashed differently when turned back exactly.
    if candidate.variant is None or own_orientation(candidate.variant):
        return False
    if candidate.signal_type != "pdq":
        return False
    limits = bank.thresholds_for(candidate.signal_type)
    return (
        bank.enabled
        and bank.action is not Action.ALLOW
        and _strong_pair(candidate)
        and not _is_low_quality(candidate.query_quality)
        and limits.match < candidate.distance <= limits.review
    )
