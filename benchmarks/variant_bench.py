"""What uploaders do to a picture, and whether hashwall still finds it.

Each real photo (Debian wallpapers, opencv-doc) is transformed as re-uploaders do (re-
encoding, resizing, blur, gamma, noise, grey, caption bands, mirrors, rotations, crops,
padding, letterbox, a screenshot in an app frame, a small rotation and combinations;
crops, captions and frames at random sizes and positions) and uploaded through
hashwall's media path. The bank holds what StopNCII sends: the reference pdq of the
original (and, for pHash's column, imagehash's pHash). Recall is the share of uploads
that get `block` or `review` under the default policy:

- plain pdq: the upload's own pdq within 47 bits (31 blocks, 47 reviews), as every peer;
- pHash: within 8 bits;
- hashwall: the upload's own hashes and its candidates (`matcher/variants.py`) through
  the real policy (`app.policy.decide`);
- hashwall, media bank: the same, against a bank filled from media, which also holds
  the parts of each original of quality >= 50 (`matcher.variants.bank_parts`: crops,
  caption bands, small rotations).

False matches: every ordered pair of distinct images (photos and openclipart drawings),
each uploaded as a JPEG and looked up, with all its candidates, against a bank of the
others' reference hashes, and against a bank of the others banked from media.

    python benchmarks/variant_bench.py [--photos N] [--clipart N] [--results PATH]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from multiprocessing import Pool
from pathlib import Path

import cv2
import faiss
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.matching import picture_detailed, picture_quality, with_second_look
from app.policy import (
    DEFAULT_THRESHOLDS,
    MIN_BLOCK_QUALITY,
    Action,
    BankPolicy,
    Candidate,
    Verdict,
    decide,
)
from benchmarks.common import (
    CLIPART_DIR,
    PHOTO_DIRS,
    RESULTS,
    image_files,
    picture,
    table,
    write_section,
)
from benchmarks.threshold_bench import LIMITS, gamma, grey, jpeg, noisy, reference, resized
from matcher.candidates import MIN_QUALITY, Variant
from matcher.decode import decode_image
from matcher.media import hash_file, second_look
from matcher.signals import Signal, default_registry
from matcher.variants import MIN_DETAIL, bank_parts, is_detailed

REGISTRY = default_registry()
BANK = BankPolicy(1, "bench", Action.BLOCK, True)
Rng = np.random.Generator
Transform = Callable[[np.ndarray, Rng], bytes]
#: No parts (a weak original is banked without them, as `hash_file` does).
NO_PARTS: list[Variant] = []
#: Distances of the parts that decided a block no other hash would have: on copies, and
#: on distinct pairs (with how far apart the two images' own hashes were).
PART_BLOCKS: dict[str, list[int]] = {"copies": [], "distinct": [], "distinct_own": []}
#: Drawings filed in another category than the drawing they are made from, looked at one
#: by one (the false blocks this script names): each counts in its source's category,
#: as a photo's versions count as one picture (`benchmarks.common.SAME_PICTURE`).
SAME_DRAWING = {
    # The turkey of animals/birds/turkey_on_platter_01.png with fruit added around it.
    "food/fruit/turkey_platter_01_with_fruit_and_vegitables_01.png": "animals",
}


def crop(rgb: np.ndarray, share: float, rng: Rng) -> np.ndarray:
    """Keep (1 - share) of each side, at a random position."""
    h, w = rgb.shape[:2]
    ch, cw = int(h * (1 - share)), int(w * (1 - share))
    top, left = int(rng.integers(0, h - ch + 1)), int(rng.integers(0, w - cw + 1))
    return rgb[top : top + ch, left : left + cw]


def caption(rgb: np.ndarray, share: float, rng: Rng) -> np.ndarray:
    """A band of text over `share` of the height, at the top, the bottom or in between."""
    out = rgb.copy()
    h, w = out.shape[:2]
    band = max(8, int(h * share))
    top = int(rng.choice([0, h - band, int(rng.integers(0, h - band + 1))]))
    colour = (255, 255, 255) if rng.random() < 0.5 else (0, 0, 0)
    out[top : top + band] = colour
    scale = band / 40
    text_colour = tuple(255 - c for c in colour)
    cv2.putText(out, "when you see it", (int(w * 0.05), top + int(band * 0.7)),
                cv2.FONT_HERSHEY_SIMPLEX, scale, text_colour, max(1, int(scale * 2)))  # fmt: skip
    return out


def pad(rgb: np.ndarray, share: float, rng: Rng) -> np.ndarray:
    """A border adding `share` to each dimension, of one random colour, split at random."""
    h, w = rgb.shape[:2]
    extra_h, extra_w = int(h * share), int(w * share)
    top, left = int(rng.integers(0, extra_h + 1)), int(rng.integers(0, extra_w + 1))
    colour = [int(c) for c in rng.integers(0, 256, 3)]
    return cv2.copyMakeBorder(rgb, top, extra_h - top, left, extra_w - left,
                              cv2.BORDER_CONSTANT, value=colour)  # fmt: skip


def letterbox(rgb: np.ndarray, rng: Rng) -> np.ndarray:
    """Black bars above and below (or beside) to fit a 9:16 or 16:9 frame."""
    h, w = rgb.shape[:2]
    if w >= h:  # a landscape picture in a portrait phone frame
        bar = (int(w * 16 / 9) - h) // 2
        return cv2.copyMakeBorder(rgb, bar, bar, 0, 0, cv2.BORDER_CONSTANT, value=(0, 0, 0))
    bar = (int(h * 16 / 9) - w) // 2
    return cv2.copyMakeBorder(rgb, 0, 0, bar, bar, cv2.BORDER_CONSTANT, value=(0, 0, 0))


def screenshot(rgb: np.ndarray, rng: Rng) -> np.ndarray:
    """The picture in an app's frame: a header bar, margins, text lines below."""
    h, w = rgb.shape[:2]
    canvas_w = int(w * rng.uniform(1.05, 1.3))
    header = int(h * rng.uniform(0.06, 0.12))
    below = int(h * rng.uniform(0.15, 0.35))
    canvas = np.full((header + h + below + int(h * 0.05), canvas_w, 3), 246, np.uint8)
    canvas[:header] = [int(c) for c in rng.integers(0, 200, 3)]
    cv2.putText(canvas, "Photos  12:41", (int(canvas_w * 0.04), int(header * 0.7)),
                cv2.FONT_HERSHEY_SIMPLEX, header / 50, (255, 255, 255), 2)  # fmt: skip
    left = int(rng.integers(0, canvas_w - w + 1))
    canvas[header + int(h * 0.02) : header + int(h * 0.02) + h, left : left + w] = rgb
    for line in range(3):
        y = header + int(h * 1.02) + int(below * (line + 1) / 4)
        cv2.putText(canvas, "liked by 1,204 people  #summer", (int(canvas_w * 0.04), y),
                    cv2.FONT_HERSHEY_SIMPLEX, h / 900, (40, 40, 40), 2)  # fmt: skip
    return canvas


def rotate(rgb: np.ndarray, degrees: float) -> np.ndarray:
    h, w = rgb.shape[:2]
    matrix = cv2.getRotationMatrix2D((w / 2, h / 2), degrees, 1.0)
    return cv2.warpAffine(rgb, matrix, (w, h), borderValue=(0, 0, 0))


TRANSFORMS: dict[str, Transform] = {
    "JPEG quality 30": lambda im, rng: jpeg(im, 30),
    "resize to 25%": lambda im, rng: jpeg(resized(im, 0.25)),
    "Gaussian blur sigma 3": lambda im, rng: jpeg(cv2.GaussianBlur(im, (0, 0), 3)),
    "gamma 0.6": lambda im, rng: jpeg(gamma(im, 0.6)),
    "noise sigma 12": lambda im, rng: jpeg(noisy(im, 12)),
    "grayscale": lambda im, rng: jpeg(grey(im)),
    "caption band, 15% of the height": lambda im, rng: jpeg(caption(im, 0.15, rng)),
    "horizontal flip (mirror)": lambda im, rng: jpeg(np.ascontiguousarray(im[:, ::-1])),
    "rotation by 90 degrees": lambda im, rng: jpeg(np.ascontiguousarray(np.rot90(im))),
    "rotation by 180 degrees": lambda im, rng: jpeg(np.ascontiguousarray(np.rot90(im, 2))),
    "crop 5% of each side": lambda im, rng: jpeg(crop(im, 0.05, rng)),
    "crop 15% of each side": lambda im, rng: jpeg(crop(im, 0.15, rng)),
    "pad 20%": lambda im, rng: jpeg(pad(im, 0.2, rng)),
    "letterbox": lambda im, rng: jpeg(letterbox(im, rng)),
    "screenshot in an app frame": lambda im, rng: jpeg(screenshot(im, rng)),
    "rotation by 5 degrees": lambda im, rng: jpeg(rotate(im, 5)),
    "mirror and crop 10%": lambda im, rng: jpeg(crop(np.ascontiguousarray(im[:, ::-1]), 0.1, rng)),
    "crop 10%, caption, resize 50%, JPEG 50": lambda im, rng: jpeg(
        resized(caption(crop(im, 0.1, rng), 0.15, rng), 0.5), 50
    ),
}


def code(signal: Signal) -> np.ndarray:
    return np.frombuffer(bytes.fromhex(signal.value), np.uint8)


def distance(a: np.ndarray, b: np.ndarray) -> int:
    return int(np.bitwise_count(np.bitwise_xor(a, b)).sum())


def parts_of(rgb: np.ndarray, quality: int) -> list[Variant]:
    """What a bank filled from media stores besides an original's own hash (as
    `matcher.media.hash_file` decides)."""
    return bank_parts(rgb) if quality >= MIN_QUALITY and is_detailed(rgb) else NO_PARTS


def judged(
    data: bytes,
    signals: list[Signal],
    bank: dict[str, np.ndarray],
    quality: int,
    parts: list[Variant] = NO_PARTS,
) -> Verdict:
    """hashwall's verdict for an upload against a bank holding one original (and its
    parts, if banked from media), with the second look /v1/match/media takes at
    orientations that came close."""
    verdict = first_verdict(signals, bank, quality, parts)
    if verdict.action is Action.BLOCK or not verdict.near_variants:
        return verdict
    exact = second_look(data, LIMITS, verdict.near_variants)
    return first_verdict(with_second_look(signals, exact), bank, quality, parts)


def first_verdict(
    signals: list[Signal], bank: dict[str, np.ndarray], quality: int, parts: list[Variant]
) -> Verdict:
    candidates = []
    part_codes = np.array([np.frombuffer(p.code, np.uint8) for p in parts]).reshape(-1, 32)
    match = DEFAULT_THRESHOLDS["pdq"].match
    detailed = picture_detailed(signals)
    for signal in signals:
        if signal.signal_type not in bank:
            continue
        d = distance(code(signal), bank[signal.signal_type])
        if d <= DEFAULT_THRESHOLDS[signal.signal_type].review:
            candidates.append(
                Candidate(
                    0,
                    1,
                    signal.signal_type,
                    d,
                    quality,
                    True,
                    signal.quality,
                    signal.variant,
                    query_detailed=detailed,
                )
            )
        if signal.signal_type == "pdq" and len(parts):
            near = np.bitwise_count(part_codes ^ code(signal)).sum(axis=1)
            for k in np.flatnonzero(near <= match).tolist():
                candidates.append(
                    Candidate(0, 1, "pdq", int(near[k]), parts[k].quality, True,
                              signal.quality, signal.variant, part=parts[k].name,
                              query_detailed=detailed)
                )  # fmt: skip
    return decide(candidates, {1: BANK})


def recall_rows(originals: list[np.ndarray], refs: list[dict[str, np.ndarray]],
                qualities: list[int], parts: list[list[Variant]], counted: list[bool]
                ) -> tuple[list[list[object]], float]:  # fmt: skip
    """Recall per transform over the `counted` originals (strong and detailed), and
    hashwall's on the rest."""
    rows = []
    started = time.perf_counter()
    uploads = 0
    for name, transform in TRANSFORMS.items():
        counts = {
            key: [0, 0]
            for key in ("pdq31", "pdq47", "phash", "hw_block", "hw_any", "media_block", "media_any")
        }
        low = [0, 0]  # hashwall on the other originals: found, blocked by a candidate
        strong = 0
        for number, (image, ref, quality, banked_parts) in enumerate(
            zip(originals, refs, qualities, parts, strict=True)
        ):
            data = transform(image, np.random.default_rng(number))
            signals = hash_file(data, REGISTRY, LIMITS, variants=True)
            uploads += 1
            own = {s.signal_type: code(s) for s in signals if s.variant is None}
            verdict = judged(data, signals, ref, quality)
            action = verdict.action
            if not counted[number]:
                low[0] += action is not Action.ALLOW
                low[1] += action is Action.BLOCK and verdict.matches[0].variant is not None
                continue
            strong += 1
            d_pdq = distance(own["pdq"], ref["pdq"])
            counts["pdq31"][0] += d_pdq <= 31
            counts["pdq47"][0] += d_pdq <= 47
            counts["phash"][0] += distance(own["phash"], ref["phash"]) <= 8
            counts["hw_block"][0] += action is Action.BLOCK
            counts["hw_any"][0] += action is not Action.ALLOW
            media_verdict = judged(data, signals, ref, quality, banked_parts)
            media = media_verdict.action
            counts["media_block"][0] += media is Action.BLOCK
            counts["media_any"][0] += media is not Action.ALLOW
            if media is Action.BLOCK and action is not Action.BLOCK:
                PART_BLOCKS["copies"].append(media_verdict.matches[0].distance)

        def share(found: int, total: int) -> str:
            return f"{100 * found / max(1, total):.0f}%"

        rows.append(
            [name, share(counts["pdq31"][0], strong), share(counts["pdq47"][0], strong),
             share(counts["phash"][0], strong), share(counts["hw_block"][0], strong),
             share(counts["hw_any"][0], strong),
             share(counts["media_block"][0], strong), share(counts["media_any"][0], strong),
             f"{share(low[0], len(originals) - strong)} ({low[1]} blocked by a candidate)"]
        )  # fmt: skip
    return rows, (time.perf_counter() - started) / max(1, uploads)


def false_matches(images: list[bytes], refs: list[dict[str, np.ndarray]],
                  qualities: list[int], groups: list[str], names: list[str],
                  parts: list[list[Variant]]) -> tuple[list[list[object]], list[str]]:  # fmt: skip
    """Every ordered pair (upload i, bank hash j) of images from different groups:
    drawings within one openclipart category include near-identical variants, and
    wallpapers come as light and dark versions of one picture, which the hashes rightly
    find close. Returns the table's rows and the false blocks between images of quality
    >= 50, named, so that each can be looked at."""
    n = len(images)
    group_of = np.unique(np.array(groups), return_inverse=True)[1]

    def distinct(i: int, j: int) -> bool:
        return bool(group_of[i] != group_of[j])

    banks = {signal: faiss.IndexBinaryFlat(len(refs[0][signal]) * 8) for signal in ("pdq", "phash")}
    for signal, index in banks.items():
        index.add(np.stack([r[signal] for r in refs]))
    # Every part of every image banked from media, and whose part each is.
    part_index = faiss.IndexBinaryFlat(256)
    owners = [(j, part) for j, banked in enumerate(parts) for part in banked]
    if owners:
        part_index.add(np.stack([np.frombuffer(part.code, np.uint8) for _, part in owners]))
    # Counts per class of pair: [both of pdq quality >= 50, either weaker].
    plain = {key: [0, 0] for key in ("pdq31", "pdq47", "phash4", "phash8")}
    hashwall = {Action.BLOCK: [0, 0], Action.REVIEW: [0, 0]}
    media = {Action.BLOCK: [0, 0], Action.REVIEW: [0, 0]}
    pairs = [0, 0]
    blocked_by: list[dict[str, list[int]]] = [{}, {}]
    media_blocked_by: list[dict[str, list[int]]] = [{}, {}]
    named: list[str] = []
    strong_bank = np.array(qualities) >= MIN_BLOCK_QUALITY
    for i, data in enumerate(images):
        signals = hash_file(data, REGISTRY, LIMITS, variants=True)
        own_quality = picture_quality(signals)
        detailed = picture_detailed(signals)
        strong_upload = (own_quality or 0) >= MIN_BLOCK_QUALITY
        others = np.array([distinct(i, j) for j in range(n)])
        pairs[0] += int((others & strong_bank).sum()) if strong_upload else 0
        pairs[1] += int(others.sum()) - (int((others & strong_bank).sum()) if strong_upload else 0)
        near: dict[int, list[Candidate]] = {}
        near_parts: dict[int, list[Candidate]] = {}
        for signal in signals:
            if signal.signal_type == "pdq" and owners:
                lims, dists, ids = part_index.range_search(
                    code(signal)[None, :], DEFAULT_THRESHOLDS["pdq"].match + 1
                )
                for d, k in zip(dists[lims[0] : lims[1]], ids[lims[0] : lims[1]], strict=True):
                    j, part = owners[k]
                    if others[j]:
                        near_parts.setdefault(j, []).append(
                            Candidate(j, 1, "pdq", int(d), part.quality, True,
                                      signal.quality if signal.quality is not None
                                      else own_quality, signal.variant, part=part.name,
                                      query_detailed=detailed)
                        )  # fmt: skip
            if signal.signal_type not in banks:
                continue
            radius = DEFAULT_THRESHOLDS[signal.signal_type].review
            lims, dists, ids = banks[signal.signal_type].range_search(
                code(signal)[None, :], radius + 1
            )
            for d, j in zip(dists[lims[0] : lims[1]], ids[lims[0] : lims[1]], strict=True):
                if not others[j]:
                    continue
                weak = int(not (strong_upload and strong_bank[j]))
                if signal.variant is None:
                    tight = 31 if signal.signal_type == "pdq" else 4
                    plain[f"{signal.signal_type}{tight}"][weak] += d <= tight
                    plain[f"{signal.signal_type}{radius}"][weak] += 1
                near.setdefault(int(j), []).append(
                    Candidate(
                        int(j),
                        1,
                        signal.signal_type,
                        int(d),
                        qualities[j],
                        True,
                        signal.quality if signal.quality is not None else own_quality,
                        signal.variant,
                        query_detailed=detailed,
                    )
                )
        for j in near.keys() | near_parts.keys():
            weak = int(not (strong_upload and strong_bank[j]))
            verdict = decide(near.get(j, []) + near_parts.get(j, []), {1: BANK})
            if verdict.action in media:
                media[verdict.action][weak] += 1
                if verdict.action is Action.BLOCK:
                    deciding = verdict.matches[0]
                    key = f"{deciding.signal_type} {deciding.variant or 'own hash'}"
                    key += f" on part {deciding.part.split(':')[0]}" if deciding.part else ""
                    media_blocked_by[weak].setdefault(key, []).append(deciding.distance)
                    if not weak:
                        named.append(f"media bank: {names[i]} -> {names[j]} ({key}, "
                                     f"{deciding.distance} bits)")  # fmt: skip
                    if deciding.part and not weak:
                        own = next(code(s) for s in signals if s.signal_type == "pdq")
                        PART_BLOCKS["distinct"].append(deciding.distance)
                        PART_BLOCKS["distinct_own"].append(distance(own, refs[j]["pdq"]))
        for j, candidates in near.items():
            verdict = decide(candidates, {1: BANK})
            if verdict.action is not Action.BLOCK and verdict.near_variants:
                exact = second_look(data, LIMITS, verdict.near_variants)
                verdict = decide(
                    [c for c in candidates if c.variant not in verdict.near_variants]
                    + [
                        Candidate(
                            j,
                            1,
                            "pdq",
                            distance(code(s), refs[j]["pdq"]),
                            qualities[j],
                            True,
                            s.quality,
                            s.variant,
                            query_detailed=detailed,
                        )
                        for s in exact
                    ],
                    {1: BANK},
                )
            weak = int(not (strong_upload and strong_bank[j]))
            if verdict.action in hashwall:
                hashwall[verdict.action][weak] += 1
                if verdict.action is Action.BLOCK:
                    deciding = verdict.matches[0]
                    key = f"{deciding.signal_type} {deciding.variant or 'own hash'}"
                    blocked_by[weak].setdefault(key, []).append(deciding.distance)
                    if not weak:
                        named.append(f"{names[i]} -> {names[j]} ({key}, "
                                     f"{deciding.distance} bits)")  # fmt: skip

    def by(found: dict[str, list[int]]) -> str:
        return (
            ", ".join(
                f"{k}: {len(d)}" + (f" (at {sorted(d)} bits)" if len(d) <= 5 else "")
                for k, d in sorted(found.items())
            )
            or "-"
        )

    def row(label: str, values: list[int]) -> list[object]:
        return [label, f"{values[0]:,}", f"{values[1]:,}"]

    return [
        row("ordered pairs of distinct images", pairs),
        row("plain pdq within 31 (a peer would block)", plain["pdq31"]),
        row("plain pdq within 47", plain["pdq47"]),
        ["pHash within 4 / within 8"]
        + [f"{plain['phash4'][k]:,} / {plain['phash8'][k]:,}" for k in (0, 1)],
        row("hashwall: false blocks", hashwall[Action.BLOCK]),
        ["hashwall: false blocks, by deciding hash", by(blocked_by[0]), by(blocked_by[1])],
        row("hashwall: false reviews", hashwall[Action.REVIEW]),
        row("hashwall, media bank: false blocks", media[Action.BLOCK]),
        [
            "hashwall, media bank: false blocks, by deciding hash",
            by(media_blocked_by[0]),
            by(media_blocked_by[1]),
        ],
        row("hashwall, media bank: false reviews (no second look)", media[Action.REVIEW]),
    ], named


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--photos", type=int, default=None)
    parser.add_argument("--clipart", type=int, default=4200)
    parser.add_argument("--results", type=Path, default=RESULTS)
    args = parser.parse_args()
    photos = image_files(PHOTO_DIRS, args.photos)
    if not photos:
        sys.exit("no images: run benchmarks/setup.sh first")
    originals, refs, qualities = [], [], []
    for path in photos:
        rgb = decode_image(path.read_bytes(), LIMITS)
        ref, quality = reference(rgb)
        originals.append(resized(rgb, min(1.0, 1600 / max(rgb.shape[:2]))))
        refs.append(ref)
        qualities.append(quality)
    # Photos, as the gate on extra candidates and parts sees them: strong and not flat.
    counted = [
        q >= MIN_BLOCK_QUALITY and is_detailed(im)
        for q, im in zip(qualities, originals, strict=True)
    ]
    strong, flat = sum(counted), sum(q >= MIN_BLOCK_QUALITY for q in qualities) - sum(counted)
    with Pool(2) as pool:
        started = time.perf_counter()
        parts = pool.starmap(parts_of, zip(originals, qualities, strict=True))
        per_original = (time.perf_counter() - started) / len(originals)
    rows, per_upload = recall_rows(originals, refs, qualities, parts, counted)

    images = [jpeg(im) for im in originals]
    groups = [f"photo {picture(path)}" for path in photos]
    names = [path.name for path in photos]
    drawings = []
    for path in image_files([CLIPART_DIR], args.clipart, min_bytes=0):
        try:
            rgb = decode_image(path.read_bytes(), LIMITS)
        except ValueError:
            continue
        ref, quality = reference(rgb)
        images.append(jpeg(rgb))
        drawings.append((rgb, quality))
        refs.append(ref)
        qualities.append(quality)
        drawing = path.relative_to(CLIPART_DIR)
        groups.append(SAME_DRAWING.get(str(drawing), drawing.parts[0]))
        names.append(str(drawing))
    with Pool(2) as pool:
        parts += pool.starmap(parts_of, drawings)
    false_rows, false_blocks = false_matches(images, refs, qualities, groups, names, parts)

    def spread(values: list[int]) -> str:
        if not values:
            return "none"
        within = sum(v <= 24 for v in values)
        return f"{len(values)}, median {np.median(values):.0f} bits, {within} within 24"

    part_note = (
        "Blocks only a part decided, at the part's distance: on copies "
        f"{spread(PART_BLOCKS['copies'])}; on distinct pairs of quality >= 50 "
        f"{spread(PART_BLOCKS['distinct'])} (the two images' own hashes "
        + (
            f"{np.median(PART_BLOCKS['distinct_own']):.0f} bits apart at the median, "
            f"{sum(d <= 63 for d in PART_BLOCKS['distinct_own'])} within 63)."
            if PART_BLOCKS["distinct_own"]
            else "-)."
        )
    )

    report = (
        "## Variants: recall on what uploaders do, and false matches\n\n"
        f"{len(photos)} real photos ({strong} of pdq quality >= {MIN_BLOCK_QUALITY} and not "
        f"flat, {flat} of that quality but flat: gradients and drawings with under "
        f"{MIN_DETAIL:.0%} of their area textured, which get no extra candidates or parts), "
        "each transformed and uploaded through hashwall's media path; the bank holds the "
        "reference pdq (full resolution) and pHash of each original, as a hash-sharing feed "
        "sends it. Recall counts `block` or `review` under the default policy, over the "
        f"originals of quality >= {MIN_BLOCK_QUALITY} and not flat; the last column is "
        "hashwall on the others, with the copies an extra candidate blocked (a flat "
        "original's stored hash says nothing of its flatness). Crops keep the "
        "stated share of each side at a random position; captions sit at the top, the "
        "bottom or anywhere; "
        f"hashing an upload with its candidates and judging it took {per_upload * 1000:.0f} ms "
        "on average. "
        "The media bank also holds the parts of each original of quality >= 50 and not flat "
        f"(`bank_parts`: {np.mean([len(p) for p in parts if p]):.0f} an image on average, "
        f"{per_original * 1000:.0f} ms an original with two processes).\n\n"
        + table(
            [
                "transform",
                "plain pdq <= 31",
                "plain pdq <= 47",
                "pHash <= 8",
                "hashwall block",
                "hashwall block or review",
                "hashwall, media bank: block",
                "media bank: block or review",
                "hashwall, quality < 50 or flat",
            ],
            rows,
        )
        + "\n\n"
        + f"False matches among {len(images)} images ({len(photos)} photos, "
        f"{len(images) - len(photos)} openclipart drawings), every upload against the hashes "
        "of every distinct image (photos of different pictures, drawings of different "
        f"categories; {len(SAME_DRAWING)} drawing made from one in another category counts in "
        "that one, see `SAME_DRAWING`), with each pair counted by its weaker hash's "
        "quality:\n\n"
        + table(["measure", "both of quality >= 50", "either of quality < 50"], false_rows)
        + "\n\n"
        + part_note
        + "\n\nFalse blocks between images of quality >= 50 (upload -> banked image): "
        + ("; ".join(f"`{b}`" for b in false_blocks) or "none")
        + "."
    )
    print(report)
    write_section("variant_bench", report, args.results)


if __name__ == "__main__":
    main()
