"""Where to put the pdq thresholds: distances of true copies against distances of distinct images.

True copies: real photos re-encoded, resized, blurred, gamma-shifted, noised and made
grey, each hashed by hashwall's query path and compared with the full-resolution
reference hash of the original (what a bank holds). Distinct images: every pair among
the photos and openclipart drawings. The match threshold must keep copies in and the
review threshold must keep distinct images out.

    python benchmarks/threshold_bench.py [--photos N] [--clipart N] [--results PATH]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pdqhash

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.policy import DEFAULT_THRESHOLDS, MIN_BLOCK_QUALITY
from benchmarks.common import (
    CLIPART_DIR,
    PHOTO_DIRS,
    RESULTS,
    image_files,
    percentile,
    table,
    write_section,
)
from matcher.decode import decode_image
from matcher.limits import Limits
from matcher.media import hash_file
from matcher.signals import Media, default_registry

LIMITS = Limits(max_pixels=100_000_000)
Transform = Callable[[np.ndarray], bytes]


def jpeg(rgb: np.ndarray, quality: int = 90) -> bytes:
    ok, buf = cv2.imencode(
        ".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality]
    )
    assert ok
    return buf.tobytes()


def resized(rgb: np.ndarray, scale: float) -> np.ndarray:
    h, w = rgb.shape[:2]
    return cv2.resize(
        rgb, (max(16, int(w * scale)), max(16, int(h * scale))), interpolation=cv2.INTER_AREA
    )


def gamma(rgb: np.ndarray, g: float) -> np.ndarray:
    table_ = ((np.arange(256) / 255.0) ** g * 255).astype(np.uint8)
    return cv2.LUT(rgb, table_)


def noisy(rgb: np.ndarray, sigma: float) -> np.ndarray:
    noise = np.random.default_rng(0).normal(0, sigma, rgb.shape)
    return np.clip(rgb + noise, 0, 255).astype(np.uint8)


def grey(rgb: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), cv2.COLOR_GRAY2RGB)


TRANSFORMS: dict[str, Transform] = {
    "JPEG quality 30": lambda im: jpeg(im, 30),
    "resize to 25%": lambda im: jpeg(resized(im, 0.25)),
    "Gaussian blur sigma 3": lambda im: jpeg(cv2.GaussianBlur(im, (0, 0), 3)),
    "gamma 0.6": lambda im: jpeg(gamma(im, 0.6)),
    "noise sigma 12": lambda im: jpeg(noisy(im, 12)),
    "grayscale": lambda im: jpeg(grey(im)),
}


SIGNALS = ("pdq", "phash")
CANDIDATES = {"pdq": [31, 39, 47, 55, 63], "phash": [4, 6, 8, 10, 12, 14]}
REGISTRY = default_registry()


def reference(rgb: np.ndarray) -> tuple[dict[str, np.ndarray], int]:
    """What a bank holds for an original: pdq at full resolution (and its quality), phash."""
    bits, quality = pdqhash.compute(rgb)
    phash = REGISTRY.get("phash").hash_media(Media(b"", rgb))
    assert phash is not None
    codes = {
        "pdq": np.packbits(bits.astype(np.uint8)),
        "phash": np.frombuffer(bytes.fromhex(phash.value), np.uint8),
    }
    return codes, int(quality)


def query_hashes(data: bytes) -> dict[str, np.ndarray]:
    """What hashwall computes for an upload, through its real media path."""
    return {
        s.signal_type: np.frombuffer(bytes.fromhex(s.value), np.uint8)
        for s in hash_file(data, REGISTRY, LIMITS)
        if s.signal_type in SIGNALS
    }


def hamming(a: np.ndarray, b: np.ndarray) -> int:
    return int(np.bitwise_count(np.bitwise_xor(a, b)).sum())


def pair_distances(codes: np.ndarray, chunk: int = 256) -> np.ndarray:
    """Distances of every unordered pair, as a flat array."""
    out = []
    for start in range(0, len(codes), chunk):
        block = codes[start : start + chunk]
        d = np.bitwise_count(np.bitwise_xor(block[:, None, :], codes[None, :, :])).sum(
            axis=2, dtype=np.int16
        )
        for i in range(len(block)):
            out.append(d[i, start + i + 1 :])
    return np.concatenate(out) if out else np.empty(0, np.int16)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--photos", type=int, default=None)
    parser.add_argument("--clipart", type=int, default=4600)
    parser.add_argument("--results", type=Path, default=RESULTS)
    args = parser.parse_args()
    photos = image_files(PHOTO_DIRS, args.photos)
    if not photos:
        sys.exit("no images: run benchmarks/setup.sh first")
    originals, refs, qualities = [], [], []
    for path in photos:
        rgb = decode_image(path.read_bytes(), LIMITS)
        codes, quality = reference(rgb)
        originals.append(resized(rgb, min(1.0, 2048 / max(rgb.shape[:2]))))
        refs.append(codes)
        qualities.append(quality)
    good = [q >= MIN_BLOCK_QUALITY for q in qualities]

    copy_rows: dict[str, list[list[object]]] = {signal: [] for signal in SIGNALS}
    for name, transform in TRANSFORMS.items():
        queries = [query_hashes(transform(im)) for im in originals]
        for signal in SIGNALS:
            dists = [hamming(q[signal], r[signal]) for q, r in zip(queries, refs, strict=True)]
            kept = [d for d, g in zip(dists, good, strict=True) if g]
            copy_rows[signal].append(
                [name, f"{statistics.mean(dists):.1f}", percentile(dists, 95), max(dists)]
                + [
                    f"{100 * sum(d <= t for d in kept) / max(1, len(kept)):.1f}%"
                    for t in CANDIDATES[signal]
                ]
            )

    start = time.perf_counter()
    clipart = image_files([CLIPART_DIR], args.clipart, min_bytes=0)
    codes = {signal: [r[signal] for r in refs] for signal in SIGNALS}
    qual = list(qualities)
    # Photos are group 0; a drawing's group is its openclipart category (animals, food...):
    # drawings of one category include near-identical variants (card faces, icon sets),
    # so pairs across categories are the clean measure of distinct images.
    groups: list[str] = ["photo"] * len(refs)
    for path in clipart:
        try:
            rgb = decode_image(path.read_bytes(), LIMITS)
        except ValueError:
            continue
        ref, quality = reference(rgb)
        for signal in SIGNALS:
            codes[signal].append(ref[signal])
        qual.append(quality)
        groups.append(path.relative_to(CLIPART_DIR).parts[0])
    hashing = time.perf_counter() - start
    n = len(qual)
    q = np.array(qual)
    ii, jj = np.triu_indices(n, k=1)
    both_good = (q[ii] >= MIN_BLOCK_QUALITY) & (q[jj] >= MIN_BLOCK_QUALITY)
    group_ids = np.unique(np.array(groups), return_inverse=True)[1]
    cross = group_ids[ii] != group_ids[jj]
    photo_pairs = (group_ids[ii] == group_ids[0]) & (group_ids[jj] == group_ids[0])
    del ii, jj

    sections = []
    for signal in SIGNALS:
        pairs = pair_distances(np.stack(codes[signal]))
        candidates = CANDIDATES[signal]

        def pair_row(label: str, d: np.ndarray, candidates: list[int] = candidates) -> list[object]:
            return (
                [label, f"{len(d):,}", int(d.min()) if len(d) else "-"]
                + [int((d <= t).sum()) for t in candidates]
                + [f"{d.mean():.1f}" if len(d) else "-"]
            )

        defaults = DEFAULT_THRESHOLDS[signal]
        sections.append(
            f"### {signal} (defaults: block at <= {defaults.match}, review at <= {defaults.review})"
            "\n\nCopies: recall over originals of pdq quality >= "
            f"{MIN_BLOCK_QUALITY} ({sum(good)} of {len(good)}).\n\n"
            + table(
                ["transform", "mean bits", "p95", "max"] + [f"recall <= {t}" for t in candidates],
                copy_rows[signal],
            )
            + "\n\nDistinct images: pairs within each distance.\n\n"
            + table(
                ["pairs", "count", "min distance"] + [f"<= {t}" for t in candidates] + ["mean"],
                [
                    pair_row("all pairs", pairs),
                    pair_row(f"all pairs, both quality >= {MIN_BLOCK_QUALITY}", pairs[both_good]),
                    pair_row("photo pairs", pairs[photo_pairs]),
                    pair_row(
                        f"across categories, both quality >= {MIN_BLOCK_QUALITY}",
                        pairs[cross & both_good],
                    ),
                ],
            )
        )

    report = (
        "## Thresholds: true copies against distinct images\n\n"
        f"{len(photos)} distinct real photos (Debian wallpapers, opencv-doc), each transformed "
        "and hashed through hashwall's media path, compared with what a bank holds for the "
        "original (pdq by the reference at full resolution, imagehash phash). Distinct "
        f"images: every pair among {n} images ({len(photos)} photos and {n - len(photos)} "
        f"openclipart drawings, hashed in {hashing:.0f} s). Drawings within one openclipart "
        "category include near-identical variants (card faces of one deck, an icon with and "
        "without a badge) that the hashes rightly find close; pairs across categories, and "
        "photo pairs, are distinct content.\n\n" + "\n\n".join(sections)
    )
    print(report)
    write_section("threshold_bench", report, args.results)


if __name__ == "__main__":
    main()
