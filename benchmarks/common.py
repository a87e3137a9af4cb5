"""What every benchmark shares: the image corpus, machine facts, and RESULTS.md sections."""

from __future__ import annotations

import contextlib
import os
import platform
import re
import shlex
import sys
from pathlib import Path

RESULTS = Path(__file__).with_name("RESULTS.md")
PHOTO_DIRS = [
    Path("/usr/share/backgrounds/gnome"),
    Path("/usr/share/backgrounds/mate"),
    Path("/usr/share/backgrounds/sway"),
    Path("/usr/share/doc/opencv-doc/examples/data"),
]
CLIPART_DIR = Path("/usr/share/openclipart/png")
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff"}


def image_files(dirs: list[Path], limit: int | None = None, min_bytes: int = 20_000) -> list[Path]:
    """Image files under `dirs`, sorted, deduplicated by content size and name, largest first.

    Wallpaper packages ship one picture at several resolutions; only the largest of each
    stem is kept so a picture is not counted as several distinct images.
    """
    by_stem: dict[str, Path] = {}
    for folder in dirs:
        if not folder.exists():
            continue
        for path in sorted(folder.rglob("*")):
            if path.suffix.lower() not in IMAGE_SUFFIXES or not path.is_file():
                continue
            if path.stat().st_size < min_bytes:
                continue
            stem = re.sub(r"[-_]?\d{3,4}x\d{3,4}$", "", path.stem.lower())
            current = by_stem.get(stem)
            if current is None or path.stat().st_size > current.stat().st_size:
                by_stem[stem] = path
    files = sorted(by_stem.values())
    return files[:limit] if limit else files


#: Names of one picture's versions, reduced to one name (after the rules of `picture`).
SAME_PICTURE = {
    "right": "left",  # opencv-doc's stereo chessboard: left01 and right01 are one board
    "mate-stripes": "stripes",
    "ela_modified": "ela",  # an edited copy of ela_original
    "ela_origina": "ela",
    "imagetextn": "imagetext",  # one text, straight (N) and rotated (R)
    "leuvena": "leuven",  # one building from two points of view
    "leuvenb": "leuven",
}


def picture(path: Path) -> str:
    """What a photo shows: a wallpaper whatever its light, dark or coloured version and
    its size, a scene whatever the frame of its sequence or the eye of its stereo pair
    (opencv-doc's basketball1 and basketball2, aloeL and aloeR, left01 to left14 of one
    chessboard and right01 to right14 of the same)."""
    stem = re.sub(r"[-_]\d{3,4}x\d{3,4}|[-_]portrait", "", path.stem.lower())
    stem = re.sub(r"^(ubuntu-mate)-.*", r"\1", stem)
    stem = re.sub(r"[-_](d|l|dark|light|day|night|morning|evening)$", "", stem)
    stem = re.sub(r"(\d+|[-_]?[lr])$", "", stem)
    return SAME_PICTURE.get(stem, stem)


def machine() -> str:
    """A one-line description of the machine the figures come from."""
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = ""
    try:
        kib = int(Path("/proc/meminfo").read_text().split()[1])
        memory = f", {kib / 1024 / 1024:.0f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    return f"{cpu}, {os.cpu_count()} cores{memory}, Python {platform.python_version()}"


def command_line() -> str:
    """How this benchmark was run, to put beside its figures."""
    script = Path(sys.argv[0])
    with contextlib.suppress(ValueError):
        script = script.resolve().relative_to(Path.cwd())
    return " ".join(["python", str(script), *map(shlex.quote, sys.argv[1:])])


def write_section(name: str, body: str, path: Path = RESULTS) -> None:
    """Replace this benchmark's section of RESULTS.md (between markers) with `body`."""
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    block = (
        f"{start}\n{body.strip()}\n\n_Machine: {machine()}. Command: `{command_line()}`._\n{end}"
    )
    text = path.read_text() if path.exists() else "# Benchmark results\n"
    if start in text and end in text:
        text = text[: text.index(start)] + block + text[text.index(end) + len(end) :]
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    path.write_text(text)


def table(headers: list[str], rows: list[list[object]]) -> str:
    """A markdown table."""
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0-100) by nearest rank."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1))))
    return ordered[rank]
