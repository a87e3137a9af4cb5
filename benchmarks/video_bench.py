"""Video: hashwall against Meta's vpdq, on opencv-doc's sample videos.

Speed: a minute of 720p H.264 (opencv-doc's clips, scaled and looped), hashed by vpdq at
one hash a second and at every frame, by a plain PyAV decode loop, and by hashwall (one
frame a second plus scene cuts; and with every candidate an upload is searched under:
eight orientations, trimmed of bars when it has any). Each runs in its own process, so
its peak resident memory is its own.

Robustness: each banked video (opencv-doc's clips, and a two-minute composite of them,
re-encoded as H.264 at 720p) is transformed as re-uploaders do, and the copy is looked
up. vpdq decides as python-threatexchange's VPDQ signal does: frames of quality >= 50
within 31 bits, at least 80% of the query's frames matching. hashwall decides through
its index and policy (`app.policy`, rule 8), with the same banks.

False matches: slideshows of distinct real photos (Debian wallpapers, opencv-doc; a few
seconds each, slowly zoomed), each looked up with every candidate against a bank of all
the others.

    python benchmarks/video_bench.py [--seconds 60] [--videos N] [--composite 120]
                                     [--slideshows 20] [--results PATH]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import av
import cv2
import numpy as np
import pdqhash

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.live_index import LiveIndex, StoredHash
from app.matching import Query, match_subjects, parse_signal
from app.policy import DEFAULT_THRESHOLDS, Action, BankPolicy
from benchmarks.common import PHOTO_DIRS, RESULTS, image_files, picture, table, write_section
from matcher.decode import decode_image
from matcher.limits import Limits
from matcher.media import hash_file
from matcher.signals import default_registry
from matcher.video import FRAME_MAX_SIDE, frame_rgb, hash_video
from matcher.video_hash import VideoHash
from matcher.video_match import compare
from matcher.vpdq import VPDQ, parse_video

SOURCES = Path("/usr/share/doc/opencv-doc/examples/data")
CLIPS = ("Megamind.avi", "vtest.avi", "tree.avi")
SIZE = (1280, 720)
FPS = 25
#: Slideshows: pictures each, seconds a picture, frame size.
SLIDES = 4
SLIDE_SECONDS = 3.0
SLIDE_SIZE = (640, 360)
REGISTRY = default_registry()
Transform = Callable[[np.ndarray], np.ndarray]


def source_frames(names: tuple[str, ...], size: tuple[int, int]) -> Iterator[np.ndarray]:
    """Every frame of the named clips in turn, as RGB scaled to `size`."""
    for name in names:
        with av.open(str(SOURCES / name)) as container:
            for frame in container.decode(video=0):
                yield frame.to_ndarray(format="rgb24", width=size[0], height=size[1])


def write_video(path: Path, frames: Iterator[np.ndarray], seconds: float, crf: int = 23) -> Path:
    """Encode up to `seconds` of frames as H.264 in MP4 at FPS."""
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=FPS)
        stream.options = {"crf": str(crf), "preset": "veryfast"}
        stream.pix_fmt = "yuv420p"
        for count, rgb in enumerate(frames):
            if count >= seconds * FPS:
                break
            if count == 0:
                stream.height, stream.width = rgb.shape[0] // 2 * 2, rgb.shape[1] // 2 * 2
            rgb = np.ascontiguousarray(rgb[: stream.height, : stream.width])
            out.mux(stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")))
        out.mux(stream.encode())
    return path


def looped(names: tuple[str, ...], size: tuple[int, int]) -> Iterator[np.ndarray]:
    while True:
        yield from source_frames(names, size)


def read_frames(path: Path) -> Iterator[np.ndarray]:
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            yield frame.to_ndarray(format="rgb24")


# --- what re-uploaders do ----------------------------------------------------------------


def crop(share: float) -> Transform:
    def apply(rgb: np.ndarray) -> np.ndarray:
        h, w = rgb.shape[:2]
        dy, dx = round(h * share), round(w * share)
        # Off centre: three fifths of the cut from the top and left.
        return rgb[dy * 3 // 5 : h - dy * 2 // 5, dx * 3 // 5 : w - dx * 2 // 5]

    return apply


def pad(rgb: np.ndarray) -> np.ndarray:
    h, w = rgb.shape[:2]
    return cv2.copyMakeBorder(rgb, h // 10, h // 10, w // 10, w // 10, cv2.BORDER_CONSTANT)


def letterbox(rgb: np.ndarray) -> np.ndarray:
    h, w = rgb.shape[:2]
    bar = (w * 3 // 4 - h) // 2  # 16:9 into 4:3
    return cv2.copyMakeBorder(rgb, bar, bar, 0, 0, cv2.BORDER_CONSTANT)


def resized(rgb: np.ndarray) -> np.ndarray:
    return cv2.resize(rgb, (rgb.shape[1] // 2, rgb.shape[0] // 2), interpolation=cv2.INTER_AREA)


def frame_map(transform: Transform) -> Callable[[Iterator[np.ndarray]], Iterator[np.ndarray]]:
    return lambda frames: (transform(f) for f in frames)


def clip(start: float, seconds: float) -> Callable[[Iterator[np.ndarray]], Iterator[np.ndarray]]:
    def apply(frames: Iterator[np.ndarray]) -> Iterator[np.ndarray]:
        for n, rgb in enumerate(frames):
            if n >= (start + seconds) * FPS:
                return
            if n >= start * FPS:
                yield rgb

    return apply


def intro(seconds: float) -> Callable[[Iterator[np.ndarray]], Iterator[np.ndarray]]:
    """A title card (a still of other footage) before the video: every one-second point
    falls between the original's."""

    def apply(frames: Iterator[np.ndarray]) -> Iterator[np.ndarray]:
        first = next(frames)
        card = cv2.GaussianBlur(np.ascontiguousarray(first[::-1, ::-1]), (0, 0), 2)
        for _ in range(round(seconds * FPS)):
            yield card
        yield first
        yield from frames

    return apply


EDITS: dict[str, tuple[Callable[[Iterator[np.ndarray]], Iterator[np.ndarray]], int]] = {
    "re-encoded (crf 35)": (lambda frames: frames, 35),
    "resized to 50%": (frame_map(resized), 23),
    "1.5 s intro": (intro(1.5), 23),
    "mirrored": (frame_map(lambda f: np.ascontiguousarray(f[:, ::-1])), 23),
    "5% crop": (frame_map(crop(0.05)), 23),
    "rotated 90": (frame_map(lambda f: np.ascontiguousarray(np.rot90(f))), 23),
    "rotated 180": (frame_map(lambda f: np.ascontiguousarray(f[::-1, ::-1])), 23),
    "20% pad": (frame_map(pad), 23),
    "letterbox": (frame_map(letterbox), 23),
}


# --- the two matchers ---------------------------------------------------------------------


def vpdq_frames(path: Path) -> list[tuple[bytes, int]]:
    import vpdq  # the peer: installed by `make bench-setup`

    return [(bytes.fromhex(f.hex), f.quality) for f in vpdq.computeHash(str(path))]


def vpdq_shares(query: list[tuple[bytes, int]], banked: list[tuple[bytes, int]]) -> float:
    """vpdq's brute-force match: the percent of the query's frames (quality >= 50) within
    31 bits of some banked frame (quality >= 50)."""

    def bits(frames: list[tuple[bytes, int]]) -> np.ndarray:
        codes = [np.frombuffer(c, np.uint8) for c, quality in frames if quality >= 50]
        return np.unpackbits(np.array(codes, np.uint8).reshape(-1, 32), axis=1)

    q, b = bits(query), bits(banked)
    if not len(q) or not len(b):
        return 0.0
    distances = (q[:, None, :] != b[None, :, :]).sum(axis=2)
    return 100.0 * float((distances.min(axis=1) <= 31).mean())


def hashwall_bank(videos: list[VideoHash]) -> LiveIndex:
    """An index with one blocking bank that holds these videos."""
    live = LiveIndex(REGISTRY)
    live.banks = {1: BankPolicy(1, "videos", Action.BLOCK, True)}
    for hash_id, video in enumerate(videos, start=1):
        value = VPDQ().format(VPDQ.identity(video))
        live.add([StoredHash(hash_id, 1, "vpdq", value, None, True, video)])
    return live


def video_queries(data: bytes) -> list[Query]:
    """An upload's vpdq hash and every candidate of it, as /v1/match/media looks them up."""
    signals = hash_file(data, REGISTRY, Limits(), variants=True)
    return [parse_signal(REGISTRY, s) for s in signals if s.signal_type == "vpdq"]


def hashwall_lookup(live: LiveIndex, queries: list[Query]) -> tuple[str, str, float]:
    """(verdict, candidate, query share) of an upload's `video_queries`, as
    /v1/match/media decides."""
    (verdict,) = match_subjects(live, [queries])
    videos = [m for m in verdict.matches if m.video]
    video = max(videos, key=lambda m: m.video.query_share if m.video else 0.0, default=None)
    share = video.video.query_share if video and video.video else 0.0
    candidate = (video.variant or "original") if video else "-"
    return verdict.action.value, candidate, share


# --- speed --------------------------------------------------------------------------------


def _child(mode: str, path: str) -> None:
    """Run one hasher on `path` in this process; print seconds and peak RSS as JSON."""
    data = Path(path).read_bytes()
    start = time.perf_counter()
    frames = 0
    if mode == "decode":
        with av.open(str(path)) as container:
            container.streams.video[0].thread_type = "SLICE"
            frames = sum(1 for _ in container.decode(video=0))
    elif mode == "vpdq-1s":
        import vpdq

        frames = len(vpdq.computeHash(path, seconds_per_hash=1))
    elif mode == "vpdq-every":
        import vpdq

        frames = len(vpdq.computeHash(path, seconds_per_hash=0))
    elif mode == "hashwall":
        frames = len(hash_video(data, Limits()).frames)
    elif mode == "hashwall-all":
        signals = hash_file(data, REGISTRY, Limits(), variants=True)
        frames = sum(len(parse_video(s.value).frames) for s in signals if s.signal_type == "vpdq")
    seconds = time.perf_counter() - start
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": seconds, "rss": rss, "frames": frames}))


def timed(mode: str, path: Path) -> dict[str, float]:
    result = subprocess.run(
        [sys.executable, __file__, "--child", mode, str(path)],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def speed(folder: Path, seconds: float) -> str:
    path = write_video(folder / "speed.mp4", looped(CLIPS, SIZE), seconds)
    modes = {
        "PyAV decode only (2 threads)": "decode",
        "vpdq, one hash a second": "vpdq-1s",
        "vpdq, every frame": "vpdq-every",
        "hashwall (1/s + scene cuts)": "hashwall",
        "hashwall, every candidate (as /v1/match/media)": "hashwall-all",
    }
    rows = []
    for label, mode in modes.items():
        best = min((timed(mode, path) for _ in range(2)), key=lambda r: r["seconds"])
        rows.append(
            [
                label,
                f"{best['seconds']:.2f}",
                f"{seconds / best['seconds']:.1f}x",
                int(best["frames"]),
                f"{best['rss']:.0f}",
            ]
        )
    return (
        f"{seconds:.0f} s of 1280x720 H.264 at {FPS} fps (opencv-doc's clips, looped), "
        "best of two runs, each in a fresh process:\n\n"
        + table(["hasher", "seconds", "x real time", "frames hashed", "peak RSS MiB"], rows)
        + "\n\n"
        + shrinking(path)
    )


def shrinking(path: Path) -> str:
    """What shrinking sampled frames to FRAME_MAX_SIDE before pdq costs and saves."""
    full, small, bits = 0.0, 0.0, []
    with av.open(str(path)) as container:
        for n, frame in enumerate(container.decode(video=0)):
            if n % FPS:
                continue
            start = time.perf_counter()
            reference, _ = pdqhash.compute(frame.to_ndarray(format="rgb24"))
            middle = time.perf_counter()
            shrunk, _ = pdqhash.compute(frame_rgb(frame))
            small += time.perf_counter() - middle
            full += middle - start
            bits.append(int(np.count_nonzero(reference != shrunk)))
    return (
        f"Frames shrunk to {FRAME_MAX_SIDE} px before pdq, against pdq at full size, on the "
        f"{len(bits)} frames at each second: {np.mean(bits):.1f} bits apart on average, "
        f"{max(bits)} at most; {1000 * small / len(bits):.1f} ms a frame against "
        f"{1000 * full / len(bits):.1f} ms (both with the conversion to RGB)."
    )


# --- robustness ---------------------------------------------------------------------------


def robustness(folder: Path, videos: int, composite: float) -> str:
    originals: dict[str, Path] = {}
    for name in CLIPS[:videos]:
        originals[name] = write_video(folder / f"{name}.mp4", source_frames((name,), SIZE), 600)
    joined = f"composite ({composite:.0f} s)"
    originals[joined] = write_video(
        folder / "composite.mp4", looped(CLIPS[:videos], SIZE), composite
    )
    banked = {name: hash_video(path.read_bytes(), Limits()) for name, path in originals.items()}
    # One bank per video: the composite holds the clips, and would match their copies.
    banks = {name: hashwall_bank([video]) for name, video in banked.items()}
    vpdq_banked = {name: vpdq_frames(path) for name, path in originals.items()}
    # A short clip from the middle of the composite: most of the query, little of the bank.
    cut = min(10.0, composite / 3)
    edits = {**EDITS, f"{cut:.0f} s clip": (clip(composite / 3, cut), 23)}
    rows = []
    for edit, (change, crf) in edits.items():
        for name, path in originals.items():
            if edit.endswith("clip") and name != joined:
                continue
            copy = write_video(folder / "copy.mp4", change(read_frames(path)), 600, crf)
            share = vpdq_shares(vpdq_frames(copy), vpdq_banked[name])
            queries = video_queries(copy.read_bytes())
            verdict, candidate, ours = hashwall_lookup(banks[name], queries)
            rows.append(
                [
                    edit,
                    name,
                    f"{share:.0f}%",
                    "match" if share >= 80 else "miss",
                    f"{ours:.0f}%",
                    verdict,
                    candidate,
                ]
            )
            print(" | ".join(str(c) for c in rows[-1]), flush=True)
    distinct = []
    for name, path in originals.items():
        others = {n: v for n, v in banked.items() if n != name and not _overlaps(n, name)}
        if not others:
            continue
        other_live = hashwall_bank(list(others.values()))
        verdict, _, share = hashwall_lookup(other_live, video_queries(path.read_bytes()))
        distinct.append([name, ", ".join(others), verdict, f"{share:.0f}%"])
    return (
        "Query share: percent of the copy's frames (quality >= 50) within 31 bits of the "
        "banked video's (for a hashwall review, within 47). vpdq matches at 80% "
        "(python-threatexchange's default); hashwall's verdict is its policy's (block: a "
        "match; review: a near match a person looks at).\n\n"
        + table(
            [
                "edit",
                "banked video",
                "vpdq share",
                "vpdq",
                "hashwall share",
                "hashwall verdict",
                "candidate",
            ],
            rows,
        )
        + "\n\nDistinct videos, each looked up in a bank of the others:\n\n"
        + table(["video", "bank", "hashwall verdict", "best share"], distinct)
    )


def slides(pictures: list[np.ndarray]) -> Iterator[np.ndarray]:
    """Each picture cut to the frame's shape and zoomed in slowly (by a tenth), as a
    slideshow or a photo montage does."""
    width, height = SLIDE_SIZE
    steps = round(SLIDE_SECONDS * FPS)
    for rgb in pictures:
        h, w = rgb.shape[:2]
        fit = max(width / w, height / h)
        for step in range(steps):
            scale = fit * (1 + 0.1 * step / steps)
            matrix = np.array(
                [[scale, 0, (width - w * scale) / 2], [0, scale, (height - h * scale) / 2]]
            )
            yield cv2.warpAffine(rgb, matrix, (width, height), flags=cv2.INTER_AREA)


def slideshows(folder: Path, count: int) -> str:
    """Distinct videos made of distinct photos, each looked up against a bank of the
    others with every candidate an upload is searched under."""
    by_picture: dict[str, Path] = {}
    for path in image_files(PHOTO_DIRS):
        by_picture.setdefault(picture(path), path)
    photos = list(by_picture.values())[: count * SLIDES]
    shows = [photos[k : k + SLIDES] for k in range(0, len(photos) - SLIDES + 1, SLIDES)]
    banked, paths = [], []
    for number, show in enumerate(shows):
        pictures = [decode_image(path.read_bytes(), Limits()) for path in show]
        path = write_video(folder / f"show{number}.mp4", slides(pictures), 600)
        paths.append(path)
        banked.append(hash_video(path.read_bytes(), Limits()))
    verdicts: dict[str, int] = {}
    review = DEFAULT_THRESHOLDS["vpdq"].review
    best = 0.0
    for number, path in enumerate(paths):
        live = hashwall_bank([v for k, v in enumerate(banked) if k != number])
        queries = video_queries(path.read_bytes())
        verdict, _, _ = hashwall_lookup(live, queries)
        verdicts[verdict] = verdicts.get(verdict, 0) + 1
        # How close any candidate came: its share of frames within the review distance.
        for query in queries:
            assert query.frames is not None
            for found in live.search_video("vpdq", query.frames, review):
                near = compare(found.frames, review) if found.frames else None
                best = max(best, near.query_share if near else 0.0)
    outcome = ", ".join(f"{verdicts[v]} {v}" for v in ("block", "review", "allow") if v in verdicts)
    return (
        f"{len(shows)} slideshows of {SLIDES} distinct photos each ({SLIDE_SECONDS:.0f} s a "
        f"photo, zoomed in by a tenth, {SLIDE_SIZE[0]}x{SLIDE_SIZE[1]}), each looked up with "
        f"every candidate against a bank of the other {len(shows) - 1}: {outcome or 'none'}. "
        f"The most of a query's frames any candidate brought within {review} bits of one "
        f"banked slideshow's was {best:.0f}% (a review needs 50%)."
    )


def _overlaps(a: str, b: str) -> bool:
    # The composite contains every clip.
    return a.startswith("composite") or b.startswith("composite")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="length of the speed video")
    parser.add_argument("--videos", type=int, default=len(CLIPS), help="opencv-doc clips used")
    parser.add_argument(
        "--composite", type=float, default=120.0, help="length of the clips joined, seconds"
    )
    parser.add_argument(
        "--slideshows", type=int, default=20, help="distinct slideshows for false matches"
    )
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(*args.child)
        return
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        body = "## Video: hashwall against Meta's vpdq\n\n### Speed\n\n" + speed(
            folder, args.seconds
        )
        body += "\n\n### What re-uploaders do\n\n" + robustness(folder, args.videos, args.composite)
        body += "\n\n### Distinct videos from photos\n\n" + slideshows(folder, args.slideshows)
    write_section("video_bench", body, args.results)
    print(body)


if __name__ == "__main__":
    main()
