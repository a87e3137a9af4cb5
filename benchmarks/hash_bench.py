"""PDQ hashing paths on real images: speed against bit distance from the full-resolution reference.

Bank hashes are made by the reference PDQ at full resolution on the victim's device, so
a faster query path is only acceptable if it stays within a few bits of it. Each path
below decodes the file and hashes it; the distance is to the reference hash of the same
file (OpenCV full decode, pdqhash at full resolution).

    python benchmarks/hash_bench.py [--limit N] [--results PATH]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import imagehash
import numpy as np
import pdqhash
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import PHOTO_DIRS, RESULTS, percentile, table, write_section
from matcher.decode import decode_image
from matcher.limits import Limits
from matcher.pdq import PDQ_MAX_SIDE, pdq_from_rgb
from matcher.phash import phash_bits

LIMITS = Limits(max_pixels=100_000_000)


def decode(data: bytes, flag: int = cv2.IMREAD_COLOR) -> np.ndarray:
    bgr = cv2.imdecode(np.frombuffer(data, np.uint8), flag)
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def reference(data: bytes) -> bytes:
    bits, _ = pdqhash.compute(decode(data))
    return np.packbits(bits.astype(np.uint8)).tobytes()


def area(side: int) -> Callable[[bytes], bytes]:
    """Full decode, area downscaling to `side` (0: none), then hashwall's pdq kernel."""
    return lambda data: pdq_from_rgb(decode(data), side or None)[0]


def hashwall_path(data: bytes) -> bytes:
    """What hashwall runs on an upload: reduced JPEG decode, one area downscale, then PDQ."""
    return pdq_from_rgb(decode_image(data, LIMITS, PDQ_MAX_SIDE))[0]


def distance(a: bytes, b: bytes) -> int:
    return (int.from_bytes(a, "big") ^ int.from_bytes(b, "big")).bit_count()


def phash_agreement(blobs: list[bytes]) -> str:
    """hashwall's pHash against imagehash's on the same decoded pixels, as a paragraph."""
    differing, worst, ours, theirs = 0, 0, 0.0, 0.0
    for data in blobs:
        rgb = decode_image(data, LIMITS, PDQ_MAX_SIDE)
        start = time.perf_counter()
        bits = phash_bits(rgb)
        middle = time.perf_counter()
        reference_bits = imagehash.phash(Image.fromarray(rgb)).hash.flatten()
        theirs += time.perf_counter() - middle
        ours += middle - start
        distance = int((bits != reference_bits).sum())
        differing += distance > 0
        worst = max(worst, distance)
    return (
        f"pHash on the same {len(blobs)} images, decoded as uploads are: hashwall's "
        f"(`matcher/phash.py`) and imagehash's `phash` differ on {differing} "
        f"(at most {worst} bits); {ours / len(blobs) * 1000:.2f} against "
        f"{theirs / len(blobs) * 1000:.2f} ms an image.\n"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--limit", type=int, default=None, help="images to use (all by default)")
    parser.add_argument("--results", type=Path, default=RESULTS)
    args = parser.parse_args()

    # Every file, not one per picture: each resolution a package ships is its own case here.
    files = [
        p
        for d in PHOTO_DIRS
        if d.exists()
        for p in sorted(d.rglob("*"))
        if p.suffix.lower() in {".jpg", ".jpeg", ".png", ".webp"} and p.stat().st_size > 20_000
    ]
    files = files[: args.limit] if args.limit else files
    if not files:
        sys.exit("no images: run benchmarks/setup.sh first")
    blobs = [p.read_bytes() for p in files]
    sizes = [max(decode(b).shape[:2]) for b in blobs]

    paths: dict[str, Callable[[bytes], bytes]] = {
        "reference pdqhash (full resolution)": reference,
        "hashwall's pdq kernel, full resolution": area(0),
    }
    for side in (512, 1024, 1536):
        paths[f"area to {side}px"] = area(side)
    paths[f"hashwall: reduced JPEG decode, area to {PDQ_MAX_SIDE}px"] = hashwall_path

    refs = [reference(b) for b in blobs]
    rows = []
    for name, run in paths.items():
        times, dists = [], []
        for data, ref in zip(blobs, refs, strict=True):
            start = time.perf_counter()
            code = run(data)
            times.append(time.perf_counter() - start)
            dists.append(distance(code, ref))
        rows.append((name, statistics.mean(times) * 1000, dists))
    base = rows[0][1]
    body = [
        [
            name,
            f"{ms:.1f}",
            f"{base / ms:.2f}x",
            f"{statistics.mean(d):.2f}",
            percentile(d, 95),
            max(d),
            sum(x > 10 for x in d),
            sum(x > 31 for x in d),
        ]
        for name, ms, d in rows
    ]
    report = (
        "## PDQ paths: speed and distance from the full-resolution reference\n\n"
        f"{len(files)} real images (Debian wallpapers and opencv-doc samples; longest side "
        f"median {int(statistics.median(sizes))} px, max {max(sizes)} px). Time is decode "
        f"plus hash, one core. hashwall's default is area downscaling to {PDQ_MAX_SIDE} px. "
        "Every path but the first hashes with hashwall's pdq kernel (`matcher/_pdq.c`), "
        "which gives the reference's bits on the same pixels.\n\n"
        + table(
            [
                "path",
                "ms/image",
                "speed-up",
                "mean bits",
                "p95 bits",
                "max bits",
                "images > 10 bits",
                "images > 31 bits",
            ],
            body,
        )
        + "\n"
        + phash_agreement(blobs)
    )
    print(report)
    write_section("hash_bench", report, args.results)


if __name__ == "__main__":
    main()
