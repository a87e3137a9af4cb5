"""The HTTP service under load: a real `hashwall serve` with a large pdq bank, driven by wrk.

Measures, through a real uvicorn on this machine: batch adds through the API, start-up
until ready with the bank loaded, server memory, single-hash and 100-hash lookups with
16 concurrent connections (p50, p99, throughput), single-hash lookups from one client,
and media hashing at 1024x768 and at full wallpaper size. The load generator shares
the machine's cores with the server.

    python benchmarks/api_bench.py [--bank-size N] [--duration S] [--results PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2
import httpx
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.policy import DEFAULT_THRESHOLDS
from benchmarks.common import PHOTO_DIRS, RESULTS, image_files, table, write_section
from benchmarks.servers import Server, rss_mib, tree_memory_mib

WRK_SCRIPT = """
local bodies = {}
for _, name in ipairs({%(files)s}) do
  local f = assert(io.open(name, "rb"))
  bodies[#bodies + 1] = f:read("*a")
  f:close()
end
wrk.method = "POST"
wrk.headers["Content-Type"] = "%(content_type)s"
wrk.headers["Authorization"] = "Bearer %(key)s"
local i = 0
request = function()
  i = i + 1
  return wrk.format(nil, "%(path)s", nil, bodies[(i %% #bodies) + 1])
end
"""


def random_codes(n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, 32), dtype=np.uint8)


def near(codes: np.ndarray, bits: int, seed: int) -> np.ndarray:
    """Copies of codes with `bits` random bits flipped."""
    rng = np.random.default_rng(seed)
    unpacked = np.unpackbits(codes, axis=1)
    for row in unpacked:
        row[rng.choice(256, bits, replace=False)] ^= 1
    return np.packbits(unpacked, axis=1)


def run_wrk(
    base: str,
    key: str,
    bodies: list[bytes],
    workdir: Path,
    duration: float,
    connections: int,
    path: str = "/v1/match",
    content_type: str = "application/json",
) -> dict[str, float]:
    """Drive POST `path` with wrk, cycling through `bodies`; requests/s and latency (ms)."""
    folder = Path(tempfile.mkdtemp(dir=workdir))
    names = []
    for number, body in enumerate(bodies):
        names.append(folder / f"{number}.body")
        names[-1].write_bytes(body)
    script = folder / "post.lua"
    script.write_text(
        WRK_SCRIPT
        % {
            "files": ", ".join(f'"{name}"' for name in names),
            "content_type": content_type,
            "key": key,
            "path": path,
        }
    )
    out = subprocess.run(
        [
            "wrk",
            f"-t{min(2, connections)}",
            f"-c{connections}",
            f"-d{max(1, int(duration))}s",
            "--latency",
            "-s",
            str(script),
            base,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    units = {"us": 0.001, "ms": 1.0, "s": 1000.0}

    def latency(label: str) -> float:
        m = re.search(rf"^\s+{label}\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        return float(m.group(1)) * units[m.group(2)] if m else float("nan")

    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if errors:
        sys.exit(f"wrk saw {errors.group(1)} error responses:\n{out}")
    return {"rps": rps, "p50": latency("50%"), "p99": latency("99%")}


def multipart(image: bytes, boundary: str = "hashwall-bench-boundary") -> bytes:
    """A multipart/form-data body with one `file` part."""
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="x.jpg"\r\n'
        "Content-Type: image/jpeg\r\n\r\n"
    ).encode()
    return head + image + f"\r\n--{boundary}--\r\n".encode()


def media_rate(base: str, key: str, images: list[bytes], workdir: Path, duration: float) -> float:
    """Images per second through POST /v1/match/media, 4 connections (wrk)."""
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}) as client:
        client.post("/v1/match/media", files=[("file", ("x.jpg", images[0], "image/jpeg"))])
    result = run_wrk(
        base,
        key,
        [multipart(image) for image in images],
        workdir,
        duration,
        4,
        path="/v1/match/media",
        content_type="multipart/form-data; boundary=hashwall-bench-boundary",
    )
    return result["rps"]


def corpus_images(limit: int) -> list[np.ndarray]:
    images = []
    for path in image_files(PHOTO_DIRS, limit):
        bgr = cv2.imdecode(np.fromfile(path, np.uint8), cv2.IMREAD_COLOR)
        if bgr is not None:
            images.append(bgr)
    if not images:  # no corpus installed: photo-like synthetic images keep the smoke run going
        from app.demo import sample_image

        images = [cv2.cvtColor(sample_image(s, (1080, 1920)), cv2.COLOR_RGB2BGR) for s in range(4)]
    return images


def jpeg(bgr: np.ndarray) -> bytes:
    return cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, 90])[1].tobytes()


#: The moderation comparison: the review queue and the flood counters on, and off.
MODERATION = (
    ("on", {"HASHWALL_REVIEW_QUEUE": "true", "HASHWALL_QUARANTINE": "true"}),
    ("off", {"HASHWALL_REVIEW_QUEUE": "false", "HASHWALL_QUARANTINE": "false"}),
)


def moderation_rounds(
    args: argparse.Namespace,
    env: dict[str, str],
    log: Path,
    key: str,
    singles: list[str],
    workdir: Path,
) -> dict[str, list[float]]:
    """Single lookups (each naming a content id) against servers with the queue and the
    counters on and off, alternating which goes first; requests/s per round. The
    quarantine floor is out of reach, so that verdicts stay the same in both."""
    bodies = []
    for number, body in enumerate(singles):
        item = json.loads(body)
        item["items"][0]["content_id"] = f"upload-{number}"
        bodies.append(json.dumps(item).encode())
    measured: dict[str, list[float]] = {"on": [], "off": []}
    for round_number in range(args.moderation_rounds):
        order = MODERATION if round_number % 2 == 0 else MODERATION[::-1]
        for name, extra in order:
            server = Server(
                {**env, **extra, "HASHWALL_QUARANTINE_FLOOR": str(10**9)},
                args.port,
                log,
                args.workers,
            )
            measured[name].append(
                run_wrk(server.base, key, bodies, workdir, args.duration, 16)["rps"]
            )
            server.stop()
    return measured if args.moderation_rounds else {}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bank-size", type=int, default=1_000_000)
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per wrk run")
    parser.add_argument("--images", type=int, default=40)
    parser.add_argument("--database-url", default=None, help="default: a fresh SQLite file")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--index-backend", choices=["flat", "mih"], default="mih")
    parser.add_argument("--workers", type=int, default=1, help="hashwall serve --workers")
    parser.add_argument(
        "--pdq-review",
        type=int,
        default=None,
        help="the bank's pdq review distance (default: the policy's); 31 means no review band",
    )
    parser.add_argument(
        "--moderation-rounds",
        type=int,
        default=2,
        help="rounds of single lookups with the review queue and flood counters on, then "
        "off (alternating which goes first)",
    )
    parser.add_argument("--results", type=Path, default=RESULTS)
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is not installed: run benchmarks/setup.sh first")

    from app.auth import SCOPES, create_key
    from app.db import make_engine, make_session_factory
    from app.migrate import upgrade

    workdir = Path(tempfile.mkdtemp(prefix="hashwall-bench-"))
    url = args.database_url or f"sqlite:///{workdir / 'bench.db'}"
    env = {
        **os.environ,
        "HASHWALL_DATABASE_URL": url,
        "HASHWALL_INDEX_BACKEND": args.index_backend,
    }
    engine = make_engine(url)
    upgrade(engine)
    with make_session_factory(engine)() as session, session.begin():
        key = create_key(session, f"bench-{os.getpid()}", sorted(SCOPES))
        # What an upload pipeline holds: verdicts only, no case details.
        pipeline = create_key(session, f"bench-pipeline-{os.getpid()}", ["match"])
    engine.dispose()
    log = workdir / "server.log"

    server = Server(env, args.port, log)
    headers = {"Authorization": f"Bearer {key}"}
    bank: dict[str, object] = {"name": "bench", "action": "block"}
    if args.pdq_review is not None:
        bank["thresholds"] = {"pdq": {"match": min(31, args.pdq_review), "review": args.pdq_review}}
    httpx.post(server.base + "/v1/banks", json=bank, headers=headers).raise_for_status()
    codes = random_codes(args.bank_size, 1)
    batches = [
        json.dumps({"items": [{"signal_type": "pdq", "value": c.tobytes().hex()} for c in chunk]})
        for chunk in np.array_split(codes, max(1, len(codes) // 1000))
    ]

    def post_batch(body: str) -> None:
        with httpx.Client(base_url=server.base, headers=headers, timeout=120) as client:
            r = client.post(
                "/v1/banks/bench/hashes", content=body, headers={"Content-Type": "application/json"}
            )
            r.raise_for_status()

    start = time.perf_counter()
    with ThreadPoolExecutor(2) as pool:
        list(pool.map(post_batch, batches))
    add_rate = len(codes) / (time.perf_counter() - start)
    server.stop()

    server = Server(env, args.port, log, args.workers)
    ready = server.ready_seconds
    if args.workers > 1:  # each worker follows the change log; let all of them be ready
        time.sleep(2)
    rss_loaded, pss_loaded = tree_memory_mib(server.process.pid)

    hits = near(codes[:500], 8, 2)
    misses = random_codes(500, 3)
    singles = [
        json.dumps({"items": [{"signal_type": "pdq", "value": c.tobytes().hex()}]})
        for pair in zip(hits, misses, strict=True)
        for c in pair
    ]
    queries = np.concatenate([hits, misses])
    hundreds = [
        json.dumps(
            {
                "items": [
                    {"signal_type": "pdq", "value": c.tobytes().hex()}
                    for c in queries[np.random.default_rng(i).choice(1000, 100)]
                ]
            }
        )
        for i in range(50)
    ]
    single = run_wrk(
        server.base, pipeline, [b.encode() for b in singles], workdir, args.duration, 16
    )
    # One client waiting for each answer: the latency itself, without queueing behind
    # 15 others (with 16 connections, p50 is about 16 / throughput by Little's law).
    alone = run_wrk(server.base, pipeline, [b.encode() for b in singles], workdir, args.duration, 1)
    batch = run_wrk(
        server.base, pipeline, [b.encode() for b in hundreds], workdir, args.duration, 16
    )

    photos = corpus_images(args.images)
    small = [jpeg(cv2.resize(im, (1024, 768), interpolation=cv2.INTER_AREA)) for im in photos]
    full = [jpeg(im) for im in photos]
    full_sizes = sorted(max(im.shape[:2]) for im in photos)
    media_small = media_rate(server.base, pipeline, small, workdir, args.duration)
    media_full = media_rate(server.base, pipeline, full, workdir, args.duration)
    rss_end, rss_peak = rss_mib(server.process.pid)
    rss_tree, pss_tree = tree_memory_mib(server.process.pid)
    # Processes give back what uploads freed after a pause (app.hash_worker.IdleTrim).
    time.sleep(3)
    rss_rest, pss_rest = tree_memory_mib(server.process.pid)
    server.stop()
    moderation = moderation_rounds(args, env, log, pipeline, singles, workdir)
    shutil.rmtree(workdir, ignore_errors=True)

    rows = [
        ["batch adds (1,000 per request, 2 clients)", f"{add_rate:,.0f} hashes/s", "", ""],
        [f"start-up to ready, {args.bank_size:,} hashes loaded", f"{ready:.1f} s", "", ""],
        [
            "single-hash lookups, 16 connections",
            f"{single['rps']:,.0f} requests/s",
            f"{single['p50']:.2f}",
            f"{single['p99']:.2f}",
        ],
        [
            "single-hash lookups, 1 connection",
            f"{alone['rps']:,.0f} requests/s",
            f"{alone['p50']:.2f}",
            f"{alone['p99']:.2f}",
        ],
        [
            "100-hash batches, 16 connections",
            f"{batch['rps'] * 100:,.0f} hashes/s ({batch['rps']:,.0f} requests/s)",
            f"{batch['p50']:.2f}",
            f"{batch['p99']:.2f}",
        ],
        ["/v1/match/media at 1024x768, 4 connections", f"{media_small:.1f} images/s", "", ""],
        [
            f"/v1/match/media at full size (median {full_sizes[len(full_sizes) // 2]} px), "
            "4 connections",
            f"{media_full:.1f} images/s",
            "",
            "",
        ],
        [
            "all server processes (RSS) after load / as the uploads end / 3 s later",
            f"{rss_loaded:.0f} / {rss_tree:.0f} / {rss_rest:.0f} MiB",
            "",
            "",
        ],
        [
            "all server processes (PSS: shared pages counted once) after load / as the "
            "uploads end / 3 s later",
            f"{pss_loaded:.0f} / {pss_tree:.0f} / {pss_rest:.0f} MiB",
            "",
            "",
        ],
        [
            "main process (RSS) at end / peak",
            f"{rss_end:.0f} / {rss_peak:.0f} MiB",
            "",
            "",
        ],
    ]
    if moderation:
        on, off = (statistics.median(moderation[name]) for name in ("on", "off"))
        rows.append(
            [
                "single-hash lookups with a content id, 16 connections: review queue and "
                "flood counters on / off, each round (median ratio)",
                f"{' '.join(f'{v:,.0f}' for v in moderation['on'])} / "
                f"{' '.join(f'{v:,.0f}' for v in moderation['off'])} requests/s "
                f"({on / off:.3f})",
                "",
                "",
            ]
        )
    db = "PostgreSQL" if url.startswith("postgres") else "SQLite"
    review = args.pdq_review if args.pdq_review is not None else DEFAULT_THRESHOLDS["pdq"].review
    report = (
        f"## HTTP API: a {args.bank_size:,}-hash pdq bank on {db}, "
        f"`{args.index_backend}` index, pdq review band to {review}\n\n"
        f"`hashwall serve --workers {args.workers}` (uvicorn), wrk on the same 2 cores, "
        "random pdq bank "
        "hashes; lookups (with a `match` key, as an upload pipeline holds) are half near-copies "
        "of bank hashes (8 bits flipped), half misses. "
        f"Media: {len(photos)} real photos re-encoded as JPEG.\n\n"
        + table(["measure", "result", "p50 ms", "p99 ms"], rows)
    )
    print(report)
    section = f"api_bench_{db.lower()}_{args.index_backend}_{review}"
    if args.workers > 1:
        section += f"_w{args.workers}"
    if args.bank_size != 1_000_000:
        section += f"_n{args.bank_size}"
    write_section(section, report, args.results)


if __name__ == "__main__":
    main()
