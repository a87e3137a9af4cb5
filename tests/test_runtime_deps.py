"""The service never imports what only the tests and benchmarks need: the reference
pdqhash and imagehash (and scipy, which imagehash brings) are dev and bench extras."""

from __future__ import annotations

import subprocess
import sys

#: Refuses these modules, then imports everything a server, the CLI and the worker load.
PROBE = """
import sys

class Refuse:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {"pdqhash", "imagehash", "scipy"}:
            raise ImportError(f"runtime import of {name}")
        return None

sys.meta_path.insert(0, Refuse())
import app.main, app.cli, app.worker.run, app.ledger.sweep, app.hash_worker
from matcher.limits import Limits
from matcher.media import hash_file
from matcher.signals import default_registry
from tests.factories import photo
signals = hash_file(photo(1), default_registry(), Limits(), variants=True)
assert {s.signal_type for s in signals} >= {"pdq", "phash", "md5"}
print("ok")
"""


def test_the_service_runs_without_the_reference_hashers() -> None:
    result = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"
