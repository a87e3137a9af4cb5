"""How many CPUs this process may really use: its affinity mask, capped by the CPU quota
of its cgroup. `os.cpu_count()` counts the host's CPUs, so a container limited to two on
a 64-core host would start 64 hashing processes of about 42 MB each."""

from __future__ import annotations

import math
import os
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")
PROC_CGROUP = Path("/proc/self/cgroup")


def usable_cpus(root: Path = CGROUP_ROOT, proc_cgroup: Path = PROC_CGROUP) -> int:
    """CPUs this process may run on, at least 1."""
    try:
        count = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        count = os.cpu_count() or 1
    quota = cgroup_quota(root, proc_cgroup)
    if quota is not None:
        count = min(count, math.ceil(quota))
    return max(1, count)


def cgroup_quota(root: Path = CGROUP_ROOT, proc_cgroup: Path = PROC_CGROUP) -> float | None:
    """The CPU quota (in CPUs) of this process's cgroup, v2 or v1; None when unlimited or
    unknown."""
    for folder in _own_groups(root, proc_cgroup):
        limit = _read(folder / "cpu.max")  # v2: "max 100000" or "200000 100000"
        if limit:
            quota, _, period = limit.partition(" ")
            if quota != "max" and period:
                return int(quota) / int(period)
            return None
        quota_us, period_us = (
            _read(folder / "cpu.cfs_quota_us"),
            _read(folder / "cpu.cfs_period_us"),
        )
        if quota_us and period_us:  # v1
            return int(quota_us) / int(period_us) if int(quota_us) > 0 else None
    return None


def _own_groups(root: Path, proc_cgroup: Path) -> list[Path]:
    """Folders that may hold this process's CPU limits: its own cgroup (as
    /proc/self/cgroup names it, v2 or v1's cpu controller), then the root (a container
    sees its own cgroup mounted there)."""
    folders = []
    for line in (_read(proc_cgroup) or "").splitlines():
        _, controllers, path = line.split(":", 2)
        relative = path.lstrip("/")
        if controllers == "":
            folders.append(root / relative)
        elif "cpu" in controllers.split(","):
            folders += [root / controllers / relative, root / "cpu" / relative]
    folders += [root, root / "cpu"]
    return [f for f in dict.fromkeys(folders) if f.is_dir()]


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except (OSError, ValueError):
        return None
