"""Real `hashwall` processes for the benchmarks, and their memory."""

from __future__ import annotations

import contextlib
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx


def descendants(pid: int) -> list[int]:
    """Every process below `pid` (uvicorn workers, media hashing workers)."""
    found = []
    with contextlib.suppress(OSError):
        for task in Path(f"/proc/{pid}/task").iterdir():
            for child in (task / "children").read_text().split():
                found.append(int(child))
                found.extend(descendants(int(child)))
    return found


def tree_memory_mib(pid: int) -> tuple[float, float]:
    """(RSS, PSS) of a process and all its descendants, summed, MiB. RSS counts each
    page once per process that maps it (the libraries every worker loads, a snapshot
    they all map); PSS divides shared pages among their processes, so its sum is the
    memory the whole server holds."""
    totals = {"Rss": 0.0, "Pss": 0.0}
    for member in [pid, *descendants(pid)]:
        with contextlib.suppress(OSError):
            rollup = Path(f"/proc/{member}/smaps_rollup").read_text()
            for name in totals:
                kib = re.search(rf"^{name}:\s+(\d+)", rollup, re.M)
                totals[name] += int(kib.group(1)) / 1024  # type: ignore[union-attr]
    return totals["Rss"], totals["Pss"]


def rss_mib(pid: int) -> tuple[float, float]:
    """(current, peak) resident memory of a process, MiB."""
    status = Path(f"/proc/{pid}/status").read_text()
    current = int(re.search(r"VmRSS:\s+(\d+)", status).group(1))  # type: ignore[union-attr]
    peak = int(re.search(r"VmHWM:\s+(\d+)", status).group(1))  # type: ignore[union-attr]
    return current / 1024, peak / 1024


class Server:
    """A `hashwall serve` subprocess on a free port."""

    def __init__(self, env: dict[str, str], port: int, log: Path, workers: int = 1) -> None:
        self.base = f"http://127.0.0.1:{port}"
        self.log = log.open("ab")
        start = time.perf_counter()
        self.process = subprocess.Popen(
            [
                sys.executable,
                *("-m", "app.cli", "serve"),
                *("--port", str(port), "--workers", str(workers)),
            ],
            env=env,
            stdout=self.log,
            stderr=self.log,
        )
        deadline = time.time() + 1800
        while time.time() < deadline:
            try:
                if httpx.get(self.base + "/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if self.process.poll() is not None:
                sys.exit(f"server exited; see {log}")
            time.sleep(0.05)
        self.ready_seconds = time.perf_counter() - start

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=60)
        self.log.close()
