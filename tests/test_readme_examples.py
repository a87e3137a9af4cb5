"""The README's "Using it" examples, run as written (in bash, in an empty directory,
against the server they start), and their output compared with what the README says."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from pathlib import Path

from tests.factories import photo

README = (Path(__file__).parent.parent / "README.md").read_text()


def blocks() -> list[str]:
    section = README.split("## Using it\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```sh\n(.*?)```", section, re.DOTALL)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_the_examples_run_as_written(tmp_path: Path) -> None:
    setup, lookups = blocks()
    port = str(free_port())
    ready = (
        f"for _ in $(seq 150); do curl -sf http://127.0.0.1:{port}/readyz >/dev/null && break; "
        "sleep 0.2; done\n"
    )
    script = (
        "set -euo pipefail\ntrap 'kill $(jobs -p) 2>/dev/null' EXIT\n"
        + setup.replace("8000", port)
        + ready
        + lookups.replace("8000", port)
    )
    (tmp_path / "photo.jpg").write_bytes(photo(3))
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("HASHWALL_")},
        "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
        "HASHWALL_LOG_LEVEL": "WARNING",
    }
    result = subprocess.run(
        ["bash", "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    expected = [line[2:] for line in lookups.splitlines() if line.startswith("# ")]
    for promised in expected:
        shown = promised.removesuffix("...")
        assert shown in result.stdout, (promised, result.stdout)
