"""Hashing uploads off the event loop: in worker processes, or in threads.

The pdq kernel and OpenCV release the GIL, but an upload's candidates also cost Python
work (finding borders, canvases and caption bands: several ms of a 1024x768 upload's
16), so threads would queue behind one another; worker processes hash in parallel, one
per core. The bytes reach a worker through a pipe, in memory: nothing is written to
disk. `processes=0` hashes in the server's own threads (no extra processes, for small
deployments and most tests), and only then does the server load the image libraries.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import sys
import types
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from typing import Any

from fastapi.concurrency import run_in_threadpool

from app.errors import from_matcher_error
from app.hash_worker import IdleTrim, in_worker, start_worker
from matcher.errors import MatcherError
from matcher.limits import Limits
from matcher.signals import Registry, Signal


@contextmanager
def main_module_hidden() -> Iterator[None]:
    """Start processes without the parent's main module: a spawned child imports it
    again (multiprocessing's `prepare`), and for `hashwall serve` that is the whole CLI,
    about 45 MB more in each worker for nothing. The workers need `matcher` only."""
    main = sys.modules["__main__"]
    sys.modules["__main__"] = types.ModuleType("__main__")
    try:
        yield
    finally:
        sys.modules["__main__"] = main


class MediaHasher:
    """Hashes files with every applicable signal type, at most `concurrency` at once."""

    def __init__(self, registry: Registry, limits: Limits, processes: int, concurrency: int):
        self.registry = registry
        self.limits = limits
        self.processes = processes
        # Each file being decoded holds its pixels in memory: this bounds how many do.
        self._slots = asyncio.Semaphore(concurrency)
        self._pool: ProcessPoolExecutor | None = None
        # Request bodies and results pass through this process too (and with no hashing
        # processes, the pictures themselves).
        self._trim = IdleTrim()

    def start(self) -> None:
        """Start the worker processes and wait until each has loaded the hashers."""
        self._trim.start()
        if self.processes and self._pool is None:
            # Spawned, not forked: forking a threaded server is unsafe. Each submission
            # starts a worker until all have (one is idle only once it has run one).
            self._pool = ProcessPoolExecutor(
                self.processes,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=start_worker,
            )
            with main_module_hidden():
                started = [self._pool.submit(in_worker, "warm_up") for _ in range(self.processes)]
            for future in started:
                future.result()

    def _executor(self) -> ProcessPoolExecutor:
        self.start()
        assert self._pool is not None
        return self._pool

    async def _run(self, work: str, *args: Any) -> Any:
        """Run `matcher.media`'s function `work` on `args` in a worker process (or a
        thread), one slot per file."""
        async with self._slots:
            with self._trim.busy():
                if self.processes:
                    loop = asyncio.get_running_loop()
                    return await loop.run_in_executor(self._executor(), in_worker, work, *args)
                return await run_in_threadpool(in_worker, work, *args)

    async def hash_files(
        self,
        files: Sequence[tuple[str | None, bytes]],
        variants: bool = False,
        parts: bool = False,
    ) -> list[list[Signal]]:
        """The signals of each file, in order (with `variants`, the query-side candidates
        after each file's own hashes; with `parts`, an image's bank-side parts on its pdq
        signal); a bad file raises an error naming it."""
        results = await asyncio.gather(
            *(
                self._run("hash_file", data, self.registry, self.limits, variants, parts)
                for _, data in files
            ),
            return_exceptions=True,
        )
        hashed = []
        for position, ((filename, _), result) in enumerate(zip(files, results, strict=True)):
            if isinstance(result, MatcherError):
                raise from_matcher_error(result, f"/file/{position}", filename)
            if isinstance(result, BaseException):
                raise result
            hashed.append(result)
        return hashed

    async def second_look(
        self, files: Sequence[bytes], names: Sequence[Sequence[str]]
    ) -> list[list[Signal]]:
        """For each file, its candidates `names` hashed on the picture turned back."""
        return list(
            await asyncio.gather(
                *(
                    self._run("second_look", data, self.limits, list(wanted))
                    for data, wanted in zip(files, names, strict=True)
                )
            )
        )

    def close(self) -> None:
        """Stop the worker processes, if any were started."""
        self._trim.stop()
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
            self._pool = None
