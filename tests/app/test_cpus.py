"""Processes sized to the CPUs a container may use, not the host's count."""

from __future__ import annotations

import os
from pathlib import Path

from app.config import Settings
from app.cpus import cgroup_quota, usable_cpus


def cgroup(tmp_path: Path, files: dict[str, str], own: str = "0::/\n") -> tuple[Path, Path]:
    root = tmp_path / "cgroup"
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    root.mkdir(exist_ok=True)
    proc = tmp_path / "self-cgroup"
    proc.write_text(own)
    return root, proc


def test_a_v2_quota_caps_the_count(tmp_path: Path) -> None:
    root, proc = cgroup(tmp_path, {"cpu.max": "150000 100000\n"})
    assert cgroup_quota(root, proc) == 1.5
    assert usable_cpus(root, proc) == min(2, len(os.sched_getaffinity(0)))


def test_the_own_v2_group_is_read_first(tmp_path: Path) -> None:
    root, proc = cgroup(
        tmp_path,
        {"cpu.max": "max 100000\n", "kubepods/pod1/cpu.max": "100000 100000\n"},
        own="0::/kubepods/pod1\n",
    )
    assert cgroup_quota(root, proc) == 1.0
    assert usable_cpus(root, proc) == 1


def test_no_quota_leaves_the_affinity(tmp_path: Path) -> None:
    root, proc = cgroup(tmp_path, {"cpu.max": "max 100000\n"})
    assert cgroup_quota(root, proc) is None
    assert usable_cpus(root, proc) == len(os.sched_getaffinity(0))


def test_a_v1_quota(tmp_path: Path) -> None:
    root, proc = cgroup(
        tmp_path,
        {
            "cpu,cpuacct/docker/x/cpu.cfs_quota_us": "50000\n",
            "cpu,cpuacct/docker/x/cpu.cfs_period_us": "100000\n",
        },
        own="4:cpu,cpuacct:/docker/x\n",
    )
    assert cgroup_quota(root, proc) == 0.5
    assert usable_cpus(root, proc) == 1  # never fewer than one


def test_unlimited_v1_and_nothing_readable(tmp_path: Path) -> None:
    root, proc = cgroup(
        tmp_path, {"cpu/cpu.cfs_quota_us": "-1\n", "cpu/cpu.cfs_period_us": "100000\n"}
    )
    assert cgroup_quota(root, proc) is None
    assert cgroup_quota(tmp_path / "missing", tmp_path / "missing-too") is None


def test_settings_default_to_the_usable_count() -> None:
    settings = Settings()
    assert settings.hash_processes == settings.hash_concurrency == usable_cpus()
