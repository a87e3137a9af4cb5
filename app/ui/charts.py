"""A server-rendered chart of verdicts per hour: bars computed here, drawn as SVG by the
template. No JavaScript, no external assets."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

#: Stacked bottom to top, with their colours (contrast 4.5:1 or more on white).
SERIES = (("allow", "#2f6b3a"), ("review", "#8a5a00"), ("block", "#a3262a"))
WIDTH, HEIGHT, BAR_GAP = 720, 160, 4


@dataclass(frozen=True, slots=True)
class Segment:
    """One verdict's part of one hour's bar."""

    x: float
    y: float
    width: float
    height: float
    colour: str
    label: str


@dataclass(frozen=True, slots=True)
class Chart:
    """The bars, the hours they stand for and the largest count."""

    segments: list[Segment]
    hours: list[datetime]
    peak: int
    totals: dict[str, int]
    width: int = WIDTH
    height: int = HEIGHT


def verdicts_per_hour(counts: Mapping[tuple[datetime, str], int], now: datetime) -> Chart:
    """The last 24 hours, oldest first, from `(hour, verdict) -> count`."""
    last = now.replace(minute=0, second=0, microsecond=0)
    hours = [last - timedelta(hours=n) for n in range(23, -1, -1)]
    peak = max([sum(counts.get((h, v), 0) for v, _ in SERIES) for h in hours] + [1])
    slot = WIDTH / len(hours)
    segments = []
    for position, hour in enumerate(hours):
        base = float(HEIGHT)
        for verdict, colour in SERIES:
            count = counts.get((hour, verdict), 0)
            if not count:
                continue
            height = HEIGHT * count / peak
            base -= height
            segments.append(
                Segment(
                    position * slot + BAR_GAP / 2,
                    base,
                    slot - BAR_GAP,
                    height,
                    colour,
                    f"{hour:%H}:00 UTC: {count} {verdict}",
                )
            )
    totals = {v: sum(counts.get((h, v), 0) for h in hours) for v, _ in SERIES}
    return Chart(segments, hours, peak, totals)
