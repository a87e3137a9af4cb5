"""Matching a subject's hashes against the live index, without HTTP: how far each
candidate is searched decides what the policy can see."""

from __future__ import annotations

import numpy as np

from app.live_index import LiveIndex, StoredHash
from app.matching import match_subjects, parse_signal
from app.policy import Action, BankPolicy
from matcher.signals import Signal, default_registry
from matcher.video_hash import VideoFrame, VideoHash
from matcher.vpdq import format_video

REGISTRY = default_registry()
RNG = np.random.default_rng(7)
BANKED = [RNG.integers(0, 256, 32, dtype=np.uint8) for _ in range(6)]


def frames(codes: list[np.ndarray]) -> VideoHash:
    return VideoHash(
        tuple(VideoFrame(n, float(n), 100, code.tobytes()) for n, code in enumerate(codes)),
        float(len(codes)),
    )


def flipped(code: np.ndarray, bits: int) -> np.ndarray:
    """`code` with its first `bits` bits flipped."""
    mask = np.packbits(np.arange(256) < bits)
    return code ^ mask


def verdict_for(variant: str | None, bits: int) -> Action:
    live = LiveIndex(REGISTRY)
    live.banks = {1: BankPolicy(1, "videos", Action.BLOCK, True)}
    video = frames(BANKED)
    live.add([StoredHash(1, 1, "vpdq", format_video(video), None, True, video)])
    query = frames([flipped(code, bits) for code in BANKED])
    signal = Signal("vpdq", format_video(query), variant=variant)
    (verdict,) = match_subjects(live, [[parse_signal(REGISTRY, signal)]])
    return verdict.action


def test_a_video_candidate_in_its_own_orientation_is_searched_to_the_review_band() -> None:
    """A video padded out as if cropped (`uncropped1.1:original`) lands 30-50 bits from
    the original's frames: it must be looked up as far as the review distance."""
    for variant in (None, "trimmed:original", "uncropped1.1:original"):
        assert verdict_for(variant, 20) is Action.BLOCK
        assert verdict_for(variant, 40) is Action.REVIEW, variant
    assert verdict_for("mirrored", 20) is Action.BLOCK
    assert verdict_for("mirrored", 40) is Action.ALLOW
