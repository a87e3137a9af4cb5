"""What runs inside a media hashing process, and the idle trimmer it shares with the server.

A hashing process is spawned and imports this module to run its work: it must stay free
of the web stack (FastAPI, SQLAlchemy), which would add tens of MB to every process. The
work itself is named, not passed: the server hands it over without importing
`matcher.media`, and so never loads OpenCV (37 MB a process) or PyAV for nothing.
"""

from __future__ import annotations

import ctypes
import importlib
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

#: The module whose functions a hashing process runs.
MEDIA = "matcher.media"
#: Seconds without an upload after which a process gives its free memory back.
IDLE_SECONDS = 1.0


def release_memory() -> None:
    """Give the allocator's free pages back to the system (glibc; a no-op elsewhere)."""
    trim = getattr(ctypes.CDLL(None), "malloc_trim", None)
    if trim is not None:
        trim(0)


class IdleTrim:
    """Gives a process's free memory back once it has hashed nothing for `idle` seconds.

    Decoding keeps pictures and their working copies in memory (tens of MB for a large
    upload), and glibc keeps what they freed for the next ones: measured with 1M hashes,
    each hashing process grew from 32 to 114 MB under uploads and stayed there. Trimming
    after every upload cost 15% of the hashing speed (the pages are faulted in again), so
    it waits for a pause instead: under steady load it never runs.
    """

    def __init__(
        self, idle: float = IDLE_SECONDS, release: Callable[[], None] = release_memory
    ) -> None:
        self.idle = idle
        self.release = release
        self._lock = threading.Lock()
        self._busy = 0
        self._dirty = False
        self._last = time.monotonic()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start watching (a daemon thread that wakes twice per `idle` seconds)."""
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._watch, name="idle-trim", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Stop watching."""
        if self._thread is not None:
            self._stop.set()
            self._thread.join()
            self._thread = None

    @contextmanager
    def busy(self) -> Iterator[None]:
        """Mark the process busy for the duration of the block."""
        with self._lock:
            self._busy += 1
        try:
            yield
        finally:
            with self._lock:
                self._busy -= 1
                self._dirty = True
                self._last = time.monotonic()

    def _watch(self) -> None:
        while not self._stop.wait(self.idle / 2):
            with self._lock:
                due = self._dirty and not self._busy and time.monotonic() - self._last >= self.idle
                self._dirty = self._dirty and not due
            if due:
                self.release()


#: This hashing process's trimmer, made when the pool starts the process (`start_worker`).
_worker_trim: IdleTrim | None = None


def start_worker() -> None:
    """Start a hashing process's idle trimmer (the pool's initializer)."""
    global _worker_trim
    _worker_trim = IdleTrim()
    _worker_trim.start()


def in_worker(work: str, *args: Any) -> Any:
    """Run `matcher.media`'s function called `work` on `args`, marked busy for this
    process's idle trimmer (when it is a hashing process)."""
    run = getattr(importlib.import_module(MEDIA), work)
    if _worker_trim is None:
        return run(*args)
    with _worker_trim.busy():
        return run(*args)
