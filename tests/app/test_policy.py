"""The verdict rules as pure functions, without a database or an index."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from app.policy import (
    MIN_TURNED_QUALITY,
    NO_MATCH,
    PART_BLOCK_DISTANCE,
    Action,
    BankPolicy,
    Candidate,
    Reason,
    Thresholds,
    decide,
    search_radius,
)
from matcher.video_match import FramePairs

BLOCK = BankPolicy(1, "ncii", Action.BLOCK, True)
REVIEW = BankPolicy(2, "reported", Action.REVIEW, True)
ALLOW = BankPolicy(3, "known-fp", Action.ALLOW, True)
OFF = BankPolicy(4, "off", Action.BLOCK, False)
TIGHT = BankPolicy(5, "tight", Action.BLOCK, True, {"pdq": Thresholds(5, 8)})
BANKS = {b.id: b for b in (BLOCK, REVIEW, ALLOW, OFF, TIGHT)}


def pdq(bank: BankPolicy, distance: int, quality: int | None = None, hash_id: int = 1) -> Candidate:
    return Candidate(hash_id, bank.id, "pdq", distance, quality)


def test_no_candidates_is_allow_no_match() -> None:
    verdict = decide([], BANKS)
    assert (verdict.action, verdict.reason, verdict.matches) == (Action.ALLOW, Reason.NO_MATCH, ())


def test_bands() -> None:
    assert decide([pdq(BLOCK, 31)], BANKS).action is Action.BLOCK
    near = decide([pdq(BLOCK, 32)], BANKS)
    assert (near.action, near.reason) == (Action.REVIEW, Reason.NEAR_MATCH)
    assert decide([pdq(BLOCK, 48)], BANKS).reason is Reason.NO_MATCH
    assert decide([pdq(TIGHT, 6)], BANKS).action is Action.REVIEW


def test_strictest_wins_and_closest_explains() -> None:
    verdict = decide([pdq(REVIEW, 0, hash_id=1), pdq(BLOCK, 20, hash_id=2)], BANKS)
    assert verdict.action is Action.BLOCK
    assert verdict.matches[0].hash_id == 2
    assert [m.bank for m in verdict.matches] == ["ncii", "reported"]


def test_allowlist_overrides_only_within_its_match_distance() -> None:
    verdict = decide([pdq(BLOCK, 0), pdq(ALLOW, 10)], BANKS)
    assert (verdict.action, verdict.reason) == (Action.ALLOW, Reason.ALLOWLISTED)
    verdict = decide([pdq(BLOCK, 0), pdq(ALLOW, 40)], BANKS)
    assert verdict.action is Action.BLOCK


def test_disabled_and_unknown_banks_never_match() -> None:
    assert decide([pdq(OFF, 0)], BANKS).reason is Reason.NO_MATCH
    assert decide([Candidate(1, 99, "pdq", 0)], BANKS).reason is Reason.NO_MATCH


def test_low_quality_caps_at_review() -> None:
    stored_weak = decide([pdq(BLOCK, 0, quality=49)], BANKS)
    assert (stored_weak.action, stored_weak.reason) == (Action.REVIEW, Reason.LOW_QUALITY)
    query_weak = decide([replace(pdq(BLOCK, 0), query_quality=10)], BANKS)
    assert query_weak.action is Action.REVIEW
    strong = replace(pdq(BLOCK, 0, quality=50), query_quality=50)
    assert decide([strong], BANKS).action is Action.BLOCK
    # Quality is a pdq notion: an exact md5 match blocks whatever the pdq quality.
    md5 = Candidate(1, BLOCK.id, "md5", 0, query_quality=10)
    assert decide([md5], BANKS).action is Action.BLOCK


def test_extra_candidates_count_only_when_strong_and_within_their_reach() -> None:
    def variant(distance: int, quality: int = 90, stored: int | None = 90) -> Candidate:
        return Candidate(1, BLOCK.id, "pdq", distance, stored, True, quality, "mirrored")

    verdict = decide([variant(31)], BANKS)
    assert (verdict.action, verdict.reason) == (Action.BLOCK, Reason.MATCHED)
    assert verdict.matches[0].variant == "mirrored"
    # Never the review band; but a derived orientation there is worth a second look.
    near = decide([variant(32)], BANKS)
    assert (near.action, near.matches, near.near_variants) == (Action.ALLOW, (), ("mirrored",))
    assert decide([variant(48)], BANKS) is NO_MATCH
    assert decide([variant(0, stored=49)], BANKS) is NO_MATCH
    # The whole upload's orientations carry its own quality: a copy re-encoded a few
    # points under 50 still counts, for review only, and no second look (it could not
    # block); far weaker, not at all.
    weak = decide([variant(31, quality=45)], BANKS)
    assert (weak.action, weak.reason, weak.near_variants) == (Action.REVIEW, Reason.LOW_QUALITY, ())
    assert decide([variant(32, quality=45)], BANKS) is NO_MATCH
    assert decide([variant(0, quality=MIN_TURNED_QUALITY - 1)], BANKS) is NO_MATCH
    # A view's orientations are derived pictures: they need a strong upload.
    assert decide([replace(variant(0, quality=49), variant="trimmed:mirrored")], BANKS) is NO_MATCH
    # Feeds rarely send a quality: an unknown one does not hold a candidate back.
    assert decide([variant(0, stored=None)], BANKS).action is Action.BLOCK
    # A view in the upload's own orientation is hashed on its own pixels, as the upload's
    # hash is: it earns the review band (a derived orientation gets a second look).
    view = replace(variant(40), variant="uncaptioned:original")
    assert (decide([view], BANKS).action, decide([view], BANKS).reason) == (
        Action.REVIEW,
        Reason.NEAR_MATCH,
    )
    assert decide([replace(view, distance=48)], BANKS) is NO_MATCH
    assert decide([replace(view, query_quality=49)], BANKS) is NO_MATCH
    # ...but not the upload padded out as if uncropped: its border is made up. It counts
    # within the match distance only, and is not worth a second look (same pixels).
    uncropped = replace(view, variant="uncropped1.1:original")
    assert decide([uncropped], BANKS) is NO_MATCH
    assert decide([replace(uncropped, distance=31)], BANKS).action is Action.BLOCK
    # Nor the upload turned back from a small rotation, its lost corners filled in.
    assert decide([replace(view, variant="unrotated:original")], BANKS) is NO_MATCH
    assert decide([replace(uncropped, variant="uncropped1.1:mirrored")], BANKS).near_variants == (
        "uncropped1.1:mirrored",
    )
    # One stored hash found by the upload's own hash and by a candidate counts once, by
    # the upload's own hash.
    own = Candidate(1, BLOCK.id, "pdq", 20, 90, True, 90)
    verdict = decide([variant(3), own], BANKS)
    assert len(verdict.matches) == 1 and verdict.matches[0].variant is None


def test_parts_of_images_banked_from_media_block_only_close() -> None:
    def part(distance: int, quality: int = 90, variant: str | None = None) -> Candidate:
        return Candidate(
            1, BLOCK.id, "pdq", distance, 80, True, quality, variant, part="crop90:1.2"
        )

    close = decide([part(PART_BLOCK_DISTANCE)], BANKS)
    assert (close.action, close.reason, close.matches[0].part) == (
        Action.BLOCK,
        Reason.MATCHED,
        "crop90:1.2",
    )
    further = decide([part(PART_BLOCK_DISTANCE + 1)], BANKS)
    assert (further.action, further.reason) == (Action.REVIEW, Reason.NEAR_MATCH)
    assert decide([part(31, variant="mirrored")], BANKS).action is Action.REVIEW
    # Like the upload's candidates: never past the match distance, never for weak uploads.
    assert decide([part(32)], BANKS) is NO_MATCH
    assert decide([part(10, quality=49)], BANKS) is NO_MATCH
    # The image's own hash explains a match before any of its parts.
    own = Candidate(1, BLOCK.id, "pdq", 30, 90, True, 90)
    assert decide([part(5), own], BANKS).matches[0].part is None
    # ...but a part that blocks outweighs a view of the upload that earned only review
    # on the same banked image.
    view = Candidate(1, BLOCK.id, "pdq", 40, 80, True, 90, "uncaptioned:original")
    verdict = decide([part(10, variant="uncaptioned_wide:original"), view], BANKS)
    assert (verdict.action, verdict.matches[0].part) == (Action.BLOCK, "crop90:1.2")


def test_a_flat_upload_matches_by_its_own_hash_only_and_never_blocks() -> None:
    """A drawing of a few shapes: pdq rates its sharp edges as highly as a photo's, so its
    quality lets it through, but distinct drawings of one shape collide: its own hash asks
    for review, and its extra candidates and parts do not count."""
    flat = {"query_detailed": False}
    own = Candidate(1, BLOCK.id, "pdq", 10, 90, True, 90, **flat)  # type: ignore[arg-type]
    verdict = decide([own], BANKS)
    assert (verdict.action, verdict.reason) == (Action.REVIEW, Reason.LOW_QUALITY)
    assert decide([own, pdq(ALLOW, 10)], BANKS).action is Action.ALLOW
    # Its exact file still blocks: md5 does not depend on what the picture shows.
    exact = Candidate(2, BLOCK.id, "md5", 0, **flat)  # type: ignore[arg-type]
    assert decide([own, exact], BANKS).action is Action.BLOCK
    assert decide([replace(own, query_detailed=True)], BANKS).action is Action.BLOCK
    mirrored = replace(own, variant="mirrored")
    assert decide([mirrored], BANKS) is NO_MATCH
    assert decide([replace(own, part="crop90:1.2")], BANKS) is NO_MATCH
    # Not known (a submitted hash, not media hashwall saw): the quality decides.
    assert decide([replace(mirrored, query_detailed=None)], BANKS).action is Action.BLOCK


def test_unconfirmed_hashes_never_block() -> None:
    unconfirmed = Candidate(1, BLOCK.id, "pdq", 0, 90, False, 90)
    verdict = decide([unconfirmed], BANKS)
    assert (verdict.action, verdict.reason) == (Action.REVIEW, Reason.UNCONFIRMED)


def test_search_radius_is_the_widest_that_can_matter() -> None:
    assert search_radius(BANKS.values(), "pdq") == 47
    assert search_radius([ALLOW, TIGHT], "pdq") == 31
    assert search_radius([OFF], "pdq") is None
    assert search_radius([BLOCK], "md5") == 0


def test_phash_alone_asks_for_review_and_says_nothing_of_flat_pictures() -> None:
    phash = Candidate(1, BLOCK.id, "phash", 0, None, True, 80)
    verdict = decide([phash], BANKS)
    assert (verdict.action, verdict.reason) == (Action.REVIEW, Reason.SECONDARY)
    assert decide([replace(phash, query_quality=30)], BANKS) is NO_MATCH
    # With a pdq match too, pdq decides.
    both = decide([phash, Candidate(1, BLOCK.id, "pdq", 5, 90, True, 80)], BANKS)
    assert (both.action, both.matches[0].signal_type) == (Action.BLOCK, "pdq")


def video(distance: int, variant: str | None = None) -> Candidate:
    """A 4-frame query whose every frame comes `distance` bits from a 4-frame banked
    video's."""
    times = np.arange(4, dtype=np.float64)
    frames = np.arange(4)
    found = FramePairs(times, times, 4, frames, frames, np.full(4, distance))
    return Candidate(1, BLOCK.id, "vpdq", distance, variant=variant, frames=found)


def test_a_video_in_its_own_orientation_earns_the_review_band() -> None:
    for variant in (None, "trimmed:original", "uncropped1.1:original"):
        assert decide([video(20, variant)], BANKS).action is Action.BLOCK
        near = decide([video(40, variant)], BANKS)
        assert (near.action, near.reason) == (Action.REVIEW, Reason.NEAR_MATCH), variant
    # A derived orientation counts within the match distance only.
    assert decide([video(20, "mirrored")], BANKS).action is Action.BLOCK
    assert decide([video(40, "mirrored")], BANKS) is NO_MATCH
    assert decide([video(40, "trimmed:rotated_90_cw")], BANKS) is NO_MATCH
