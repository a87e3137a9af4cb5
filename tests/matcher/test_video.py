"""Video hashing: frames sampled in memory, vpdq's text form, and bad video files."""

from __future__ import annotations

import io
import struct

import av
import numpy as np
import pytest

from matcher.errors import InvalidHashError, MediaError, MediaTooLargeError, UnsupportedMediaError
from matcher.limits import Limits
from matcher.media import hash_file
from matcher.signals import default_registry
from matcher.video import hash_video, hash_video_orientations, sniff_video
from matcher.video_hash import VideoFrame
from matcher.video_match import FramePairs, compare, ranges
from matcher.vpdq import VPDQ, format_video, parse_video
from tests.factories import photo, video

#: Four scenes of three seconds, ten frames a second.
BANKED = video([1, 2, 3, 4])


def distance(a: bytes, b: bytes) -> int:
    return (int.from_bytes(a, "big") ^ int.from_bytes(b, "big")).bit_count()


def closest(query: bytes, frames: tuple[VideoFrame, ...]) -> int:
    return min(distance(query, f.code) for f in frames)


def test_frames_are_sampled_each_second_and_at_scene_cuts() -> None:
    hashed = hash_video(BANKED, Limits())
    assert [f.timestamp for f in hashed.frames] == [float(t) for t in range(12)]
    assert [f.frame_number for f in hashed.frames] == list(range(0, 120, 10))
    assert hashed.duration == pytest.approx(12.0)
    assert all(f.quality >= 50 and len(f.code) == 32 for f in hashed.frames)


def test_the_one_second_clock_restarts_at_a_cut() -> None:
    # Scenes of 2.5 s: the cut at 2.5 s is sampled, and so is every second after it.
    hashed = hash_video(video([1, 2], seconds=2.5), Limits())
    assert [f.timestamp for f in hashed.frames] == [0.0, 1.0, 2.0, 2.5, 3.5, 4.5]


def test_hashing_is_deterministic_and_every_container_decodes() -> None:
    mp4 = hash_video(BANKED, Limits())
    assert hash_video(BANKED, Limits()) == mp4
    avi = hash_video(video([1, 2, 3, 4], container=".avi"), Limits())
    assert [f.timestamp for f in avi.frames] == [f.timestamp for f in mp4.frames]
    # Different codecs, same pictures: every frame stays close.
    assert all(distance(a.code, b.code) <= 31 for a, b in zip(avi.frames, mp4.frames, strict=True))


def test_a_clip_cut_and_shrunk_from_a_video_keeps_its_frames_close() -> None:
    banked = hash_video(BANKED, Limits()).frames
    clip = hash_video(video([2, 3], size=(180, 240)), Limits()).frames
    assert len(clip) == 6
    assert all(closest(f.code, banked) <= 31 for f in clip)


def test_a_mirrored_video_matches_in_its_mirrored_orientation() -> None:
    banked = hash_video(BANKED, Limits()).frames
    mirrored = hash_video_orientations(video([1, 2, 3, 4], transform=np.fliplr), Limits())
    # Eight orientations, and 18 of the frames padded out as if uncropped (no bars: no
    # trimmed ones).
    assert next(iter(mirrored)) == "original" and len(mirrored) == 26
    assert [f.timestamp for f in mirrored["uncropped1.1:mirrored"].frames] == [
        f.timestamp for f in banked
    ]
    assert all(closest(f.code, banked) > 64 for f in mirrored["original"].frames)
    assert all(closest(f.code, banked) <= 16 for f in mirrored["mirrored"].frames)


def letterboxed(frame: np.ndarray) -> np.ndarray:
    bar = frame.shape[0] // 5
    return np.pad(frame, ((bar, bar), (0, 0), (0, 0)))


def test_a_letterboxed_video_matches_with_its_bars_trimmed() -> None:
    banked = hash_video(BANKED, Limits()).frames
    boxed = hash_video_orientations(video([1, 2, 3, 4], transform=letterboxed), Limits())
    assert len(boxed) == 34
    assert [f.timestamp for f in boxed["trimmed:original"].frames] == [f.timestamp for f in banked]
    assert all(closest(f.code, banked) > 31 for f in boxed["original"].frames)
    assert all(closest(f.code, banked) <= 31 for f in boxed["trimmed:original"].frames)
    # Mirrored as well: the trimmed frames come in every orientation.
    both = hash_video_orientations(
        video([1, 2, 3, 4], transform=lambda f: letterboxed(np.fliplr(f))), Limits()
    )
    assert all(closest(f.code, banked) <= 31 for f in both["trimmed:mirrored"].frames)


def test_unrelated_videos_are_far_apart() -> None:
    banked = hash_video(BANKED, Limits()).frames
    other = hash_video(video([7, 8]), Limits()).frames
    assert all(closest(f.code, banked) > 64 for f in other)


def test_hash_file_gives_digests_and_vpdq_for_a_video() -> None:
    signals = hash_file(BANKED, default_registry(), Limits(), variants=True)
    own = [s for s in signals if s.variant is None]
    assert [s.signal_type for s in own] == ["md5", "sha256", "vpdq"]
    assert parse_video(own[2].value).frames == hash_video(BANKED, Limits()).frames
    assert {s.variant for s in signals if s.signal_type == "vpdq"} >= {None, "mirrored"}


def test_vpdq_text_round_trips_and_names_the_video() -> None:
    hashed = hash_video(BANKED, Limits())
    text = format_video(hashed)
    first = text.splitlines()[0].split(",")
    assert first[0] == "0" and len(first[2]) == 64 and first[3] == "0.000"
    again = parse_video(text)
    assert [f.code for f in again.frames] == [f.code for f in hashed.frames]
    assert format_video(again) == text
    vpdq = VPDQ()
    assert vpdq.parse(text) == VPDQ.identity(hashed)
    assert vpdq.parse(vpdq.format(vpdq.parse(text))) == vpdq.parse(text)  # by identity
    assert vpdq.parse_frames(vpdq.format(vpdq.parse(text))) is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "no frames"),
        ("0,100,abc,0.0\n", "line 1: pdq hash must be 64 hex"),
        ("0,100," + "0" * 64 + ",0.0\n1,100," + "z" * 64 + ",1.0\n", "line 2: pdq hash is not"),
        ("0,100," + "0" * 64 + "\n", "line 1: expected frame_number,quality,pdq_hex,timestamp"),
        ("0,101," + "0" * 64 + ",0.0\n", "quality 0-100"),
        ("x,100," + "0" * 64 + ",0.0\n", "not a number"),
        ("0,100," + "0" * 64 + ",nan\n", "finite"),
    ],
)
def test_bad_vpdq_text_is_refused_with_its_line(text: str, message: str) -> None:
    with pytest.raises(InvalidHashError, match=message):
        parse_video(text)


def test_sniffing_tells_containers_from_images() -> None:
    assert sniff_video(BANKED) == "MP4"
    assert sniff_video(video([1], container=".avi")) == "AVI"
    assert sniff_video(photo(1)) is None


def audio_only() -> bytes:
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="matroska") as out:
        stream = out.add_stream("aac", rate=44100)
        for n in range(20):
            frame = av.AudioFrame.from_ndarray(
                np.zeros((1, 1024), np.float32), format="fltp", layout="mono"
            )
            frame.sample_rate, frame.pts = 44100, n * 1024
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return buffer.getvalue()


def lying_about_its_length(data: bytes) -> bytes:
    """The MP4 with every duration in its headers cut to a twelfth."""
    patched = bytearray(data)
    for box, offset in ((b"mvhd", 16), (b"tkhd", 20), (b"mdhd", 16)):
        at = patched.find(box) + 4 + offset
        (value,) = struct.unpack(">I", patched[at : at + 4])
        patched[at : at + 4] = struct.pack(">I", value // 12)
    return bytes(patched)


AVI = video([1, 2, 3, 4], container=".avi")


@pytest.mark.parametrize(
    ("data", "limits", "error", "message"),
    [
        (BANKED[: len(BANKED) // 2], Limits(), MediaError, "MP4 video is truncated or corrupt"),
        (AVI[: len(AVI) // 2], Limits(), MediaError, "frames stop at 5.8 s of a declared 12"),
        (BANKED[:40] + bytes(5000), Limits(), MediaError, "truncated or corrupt"),
        (audio_only(), Limits(), MediaError, "no video stream"),
        (b"RIFF\x00\x00\x00\x00AVI " + bytes(100), Limits(), MediaError, "AVI video"),
        (BANKED, Limits(max_video_seconds=5), MediaTooLargeError, "12 s long, over the limit"),
        (
            lying_about_its_length(BANKED),
            Limits(max_video_seconds=5),
            MediaTooLargeError,
            "runs past 5 s",
        ),
        (BANKED, Limits(max_video_frames=50), MediaTooLargeError, "over 50 frames"),
        (BANKED, Limits(max_bytes=1000), MediaTooLargeError, "over the limit of 1000 bytes"),
        (photo(1), Limits(), UnsupportedMediaError, "not a video"),
    ],
    ids=[
        "truncated-mp4",
        "truncated-avi",
        "garbage-after-header",
        "audio-only",
        "empty-avi",
        "too-long",
        "container-lies",
        "too-many-frames",
        "too-many-bytes",
        "an-image",
    ],
)
def test_bad_videos_get_a_clear_error(
    data: bytes, limits: Limits, error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        hash_video(data, limits)


def pairs(query: list[float], target: list[float], found: list[tuple[int, int, int]]) -> FramePairs:
    columns = np.array(found, dtype=np.int64).reshape(-1, 3)
    return FramePairs(
        np.array(query), np.array(target), len(target), columns[:, 0], columns[:, 1], columns[:, 2]
    )


def test_shares_and_ranges_follow_the_pairs_within_the_distance() -> None:
    # A 4-frame query whose frames 0-2 match banked frames 5-7 (of 10); frame 3 is far.
    found = pairs(
        [0.0, 1.0, 2.0, 3.0],
        [float(t) for t in range(10)],
        [(0, 5, 10), (1, 6, 20), (2, 7, 30), (2, 8, 31), (3, 0, 60)],
    )
    within = compare(found, 31)
    assert within is not None
    assert within.query_share == 75.0 and within.target_share == 40.0
    assert within.matched_frames == 4 and within.distance == 10
    assert within.query_ranges == ((0.0, 2.0),) and within.target_ranges == ((5.0, 8.0),)
    tight = compare(found, 10)
    assert tight is not None and tight.query_share == 25.0 and tight.matched_frames == 1
    assert compare(found, 5) is None


def test_ranges_split_at_gaps() -> None:
    assert ranges(np.array([0.0, 1.0, 2.0, 9.0, 10.0, 30.0])) == (
        (0.0, 2.0),
        (9.0, 10.0),
        (30.0, 30.0),
    )
