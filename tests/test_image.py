"""The Docker image's stages, rebuilt without Docker (no daemon here): the build stage's
`pip install .` as a wheel, the final stage as a fresh venv holding that wheel installed
with `--no-deps` (its dependencies lent from this environment, not reinstalled), then the
image's own CMD and HEALTHCHECK, read from the Dockerfile, run against it."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import sysconfig
import time
import venv
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).parent.parent
DOCKERFILE = (ROOT / "Dockerfile").read_text()


def instruction(name: str) -> list[str]:
    """The JSON-array form of the Dockerfile's (last) `name` instruction."""
    joined = DOCKERFILE.replace("\\\n", " ")
    found = re.findall(rf"^{name}\s+(?:.*?\s)?(\[.*\])\s*$", joined, re.MULTILINE)
    assert found, f"no {name} in the Dockerfile"
    return json.loads(found[-1])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def image(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A venv standing in for the final stage: the wheel, and nothing of the work tree."""
    work = tmp_path_factory.mktemp("image")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(work), str(ROOT)],
        check=True,
        timeout=600,
    )
    (wheel,) = work.glob("hashwall-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert not any(n.startswith(("tests/", "benchmarks/")) for n in names)
    metadata = (
        zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith("METADATA"))).decode()
    )
    requires = [line for line in metadata.splitlines() if line.startswith("Requires-Dist:")]
    runtime = [r for r in requires if "extra ==" not in r]
    assert not any(re.search(r"\b(pdqhash|imagehash|scipy)\b", r) for r in runtime)
    target = work / "venv"
    venv.create(target, with_pip=False)
    site = next(target.glob("lib/python*/site-packages"))
    # The dependencies come from this environment's site-packages, as a plain path: its
    # .pth files (the editable hashwall among them) are not read, so `app` is the wheel's.
    (site / "lent.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(target / "bin" / "python"), "install",
         "--no-deps", "--quiet", str(wheel)],
        check=True,
        timeout=300,
    )  # fmt: skip
    return target


def test_the_images_cmd_serves_and_its_healthcheck_passes(image: Path, tmp_path: Path) -> None:
    port = free_port()
    bin_dir = image / "bin"
    env = {
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "HASHWALL_DATABASE_URL": f"sqlite:///{tmp_path / 'hashwall.db'}",
        "HOME": str(tmp_path),
    }
    command = [
        part.replace("0.0.0.0", "127.0.0.1").replace("8000", str(port))
        for part in instruction("CMD")
    ]
    where = subprocess.run(
        [str(bin_dir / "python"), "-c", "import app; print(app.__file__)"],
        cwd=tmp_path, env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert str(image) in where.stdout, where.stdout  # the wheel's code, not the work tree
    server = subprocess.Popen(command, cwd=tmp_path, env=env, stderr=subprocess.PIPE, text=True)
    try:
        check = [part.replace("8000", str(port)) for part in instruction("HEALTHCHECK")]
        check[0] = str(bin_dir / check[0]) if check[0] == "python" else check[0]
        deadline = time.monotonic() + 60
        while True:
            result = subprocess.run(check, cwd=tmp_path, env=env, capture_output=True)
            if result.returncode == 0:
                break
            assert server.poll() is None, server.stderr.read() if server.stderr else ""
            assert time.monotonic() < deadline, "the healthcheck never passed"
            time.sleep(0.5)
    finally:
        server.terminate()
        server.wait(timeout=30)
