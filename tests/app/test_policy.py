"""The verdict rules as pure functions, without a database or an index."""

from __future__ import annotations

from app.policy import (
    Action,
    BankPolicy,
    Candidate,
    Reason,
    Thresholds,
    decide,
    search_radius,
)

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
    query_weak = decide([pdq(BLOCK, 0)], BANKS, {"pdq": 10})
    assert query_weak.action is Action.REVIEW
    assert decide([pdq(BLOCK, 0, quality=50)], BANKS, {"pdq": 50}).action is Action.BLOCK
    # Quality is a pdq notion: an exact md5 match blocks whatever the pdq quality.
    md5 = Candidate(1, BLOCK.id, "md5", 0)
    assert decide([md5], BANKS, {"pdq": 10}).action is Action.BLOCK


def test_search_radius_is_the_widest_that_can_matter() -> None:
    assert search_radius(BANKS.values(), "pdq") == 47
    assert search_radius([ALLOW, TIGHT], "pdq") == 31
    assert search_radius([OFF], "pdq") is None
    assert search_radius([BLOCK], "md5") == 0
