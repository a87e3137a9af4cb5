"""A sweeping `hashwall worker` SIGKILLed mid-sweep: the next one picks up where the
change log says, and every upload is reported once, under a stable webhook id."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from app.db import make_session_factory
from app.ledger import store as ledger_store
from app.models import SweepHit, WebhookDelivery
from app.policy import Action
from app.store import banks as bank_store
from app.store import hashes as hash_store
from app.store.hashes import NewHash
from app.webhooks import store as webhooks
from matcher.signals import default_registry
from tests.app.ledger.conftest import ledger_row
from tests.app.worker.test_worker_kill import wait_for
from tests.factories import flip_bits, random_pdq

pytestmark = pytest.mark.slow

CHANGES, PER_CHANGE = 60, 5


def start_worker(database_url: str, snapshots: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "HASHWALL_DATABASE_URL": database_url,
        "HASHWALL_LEDGER_DAYS": "90",
        "HASHWALL_SNAPSHOT_DIR": str(snapshots),
    }
    return subprocess.Popen(
        [sys.executable, "-m", "app.cli", "worker", "--tick", "0.1"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def test_a_killed_sweep_resumes_with_nothing_lost_or_doubled(
    engine: Engine, database_url: str, tmp_path: Path
) -> None:
    sessions = make_session_factory(engine)
    registry = default_registry()
    banked = [random_pdq(1000 + n) for n in range(CHANGES * PER_CHANGE)]
    with sessions() as session, session.begin():
        bank = bank_store.create_bank(session, registry, "ncii", Action.BLOCK)
        webhooks.create(session, "http://127.0.0.1:9/hook", ["sweep.matched"], "")
        ledger_store.append(
            session,
            [ledger_row(f"copy-{n}", flip_bits(v, 8, seed=n)) for n, v in enumerate(banked)],
        )

    def arrive(values: list[str]) -> None:
        """Hashes arriving a change of PER_CHANGE at a time, as feed pages do."""
        for start in range(0, len(values), PER_CHANGE):
            with sessions() as session, session.begin():
                hash_store.add_hashes(
                    session,
                    bank,
                    [NewHash("pdq", v) for v in values[start : start + PER_CHANGE]],
                    "test",
                )

    half = len(banked) // 2
    # The worker starts first, as a deployed one has: hashes arrive while it sweeps.
    worker = start_worker(database_url, tmp_path)
    try:
        wait_for(lambda: _state_exists(engine), 60)
        arrive(banked[:half])
        wait_for(lambda: _hits(engine) > 0, 60)
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=10)
    finally:
        worker.kill()
    assert _hits(engine) <= half
    arrive(banked[half:])  # and more while no worker runs
    worker = start_worker(database_url, tmp_path)
    try:
        wait_for(lambda: _hits(engine) == len(banked), 90)
        time.sleep(1.0)  # and nothing more arrives after
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(timeout=30)
    with sessions() as session:
        contents = session.execute(
            select(SweepHit.content_id, func.count()).group_by(SweepHit.content_id)
        ).all()
        deliveries = session.execute(
            select(WebhookDelivery.id, WebhookDelivery.body).where(
                WebhookDelivery.event_type == "sweep.matched"
            )
        ).all()
    assert len(contents) == len(banked) and all(count == 1 for _, count in contents)
    # One event per content (each change's hashes are in one bank), each id once.
    bodies = [body for _, body in deliveries]
    assert len(bodies) == len(banked)
    assert sorted({f'"copy-{n}"' for n in range(len(banked))}) == sorted(
        {body[body.index('"content_id":') + 13 :].split(",")[0] for body in bodies}
    )
    assert len({delivery_id for delivery_id, _ in deliveries}) == len(deliveries)
    assert (tmp_path / "ledger").is_dir()  # the stopping worker snapshotted its ledger


def _state_exists(engine: Engine) -> bool:
    from app.models import SweepState

    with make_session_factory(engine)() as session:
        return session.get(SweepState, 1) is not None


def _hits(engine: Engine) -> int:
    with make_session_factory(engine)() as session:
        return int(session.scalar(select(func.count()).select_from(SweepHit)) or 0)
