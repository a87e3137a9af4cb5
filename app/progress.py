"""A progress bar with rate and ETA for long imports, on a terminal only."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeRemainingColumn,
)


@contextmanager
def import_progress(total_bytes: int) -> Iterator[Callable[[int, int], None]]:
    """Yield `advance(bytes read, lines read)`; draws on stderr when it is a terminal."""
    progress = Progress(
        TextColumn("importing"),
        BarColumn(),
        TaskProgressColumn(),
        TextColumn("{task.fields[lines]:,} lines, {task.fields[rate]:,.0f} lines/s"),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        disable=not sys.stderr.isatty(),
        transient=False,
    )
    started = time.monotonic()
    with progress:
        task = progress.add_task("import", total=max(total_bytes, 1), lines=0, rate=0.0)

        def advance(done_bytes: int, lines: int) -> None:
            elapsed = max(time.monotonic() - started, 1e-6)
            progress.update(task, completed=done_bytes, lines=lines, rate=lines / elapsed)

        yield advance
