"""The takedown sweep: a hash that arrives after an upload finds it in the ledger, with
the policy an upload gets, and tells the platform once."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select

from app.config import Settings
from app.db import make_session_factory
from app.ledger import store as ledger_store
from app.models import ReviewItem, SweepHit, SweepState, WebhookDelivery, WorkerLease, utcnow
from app.webhooks import store as webhooks
from app.worker.run import Worker
from tests.app.conftest import Moderation
from tests.app.ledger.conftest import ledger_row
from tests.conftest import bearer
from tests.factories import flip_bits, random_pdq


def subscribe(engine: Engine) -> None:
    with make_session_factory(engine)() as session, session.begin():
        webhooks.create(session, "http://127.0.0.1:9/hook", ["sweep.matched"], "")


def events(engine: Engine) -> list[dict[str, Any]]:
    with make_session_factory(engine)() as session:
        bodies = session.scalars(
            select(WebhookDelivery.body)
            .where(WebhookDelivery.event_type == "sweep.matched")
            .order_by(WebhookDelivery.created_at)
        ).all()
    return [json.loads(body)["data"] for body in bodies]


def sweep_all(worker: Worker) -> None:
    """Sweep rounds until one does nothing (the review band comes a round after blocks)."""
    while (done := worker.sweep()) is not None and (done.changes or done.rows_indexed):
        pass


def hits(engine: Engine) -> list[tuple[str, int, str]]:
    with make_session_factory(engine)() as session:
        rows = session.execute(select(SweepHit.content_id, SweepHit.distance, SweepHit.verdict))
        return sorted((c, d, v) for c, d, v in rows)


def test_a_hash_arriving_later_finds_the_uploads_already_made(
    hub: Moderation, worker: Worker, engine: Engine, keys: dict[str, str]
) -> None:
    subscribe(engine)
    hub.bank("ncii")
    stored = random_pdq(10)
    worker.sweep()  # the sweep starts before any upload, as a deployed worker does
    hub.match(flip_bits(stored, 10), "copy-close")  # allowed: the hash is not known yet
    hub.match(flip_bits(stored, 40), "copy-near")  # review band, once it is known
    hub.match(flip_bits(stored, 60), "unrelated")
    hub.flush()
    hub.add("ncii", [stored])
    done = worker.sweep()
    assert done is not None and done.hashes_swept == 1
    sweep_all(worker)  # the review band, in the next round
    assert hits(engine) == [("copy-close", 10, "block"), ("copy-near", 40, "review")]
    by_content = {e["content_id"]: e for e in events(engine)}
    assert set(by_content) == {"copy-close", "copy-near"}
    close = by_content["copy-close"]
    assert close["verdict"] == "block" and close["bank"] == "ncii"
    assert close["matches"][0]["distance"] == 10
    assert close["matches"][0]["candidate"] == "original"
    assert "recorded_at" in close and "hash_id" in close["matches"][0]
    assert by_content["copy-near"]["verdict"] == "review"
    items = hub.items()
    assert {(i["content_id"], i["reason"]) for i in items} >= {
        ("copy-close", "sweep"),
        ("copy-near", "sweep"),
    }
    # Swept again from the start (the worker restarted on an older cursor): nothing new.
    with make_session_factory(engine)() as session, session.begin():
        state = session.get(SweepState, 1)
        assert state is not None
        state.change_seq = state.review_seq = state.ledger_seq = 0
    worker.sweeper.stop()  # type: ignore[union-attr]
    sweep_all(worker)
    assert len(events(engine)) == 2 and len(hits(engine)) == 2
    page = hub.client.get("/v1/sweeps", headers=bearer(keys["review"]))
    assert page.status_code == 200
    assert {i["content_id"] for i in page.json()["items"]} == {"copy-close", "copy-near"}
    assert hub.client.get("/v1/sweeps", headers=bearer(keys["match"])).status_code == 403
    metrics = hub.client.get("/metrics").text
    assert 'hashwall_sweep_lag_seconds_count{pass="match"} 2.0' in metrics
    assert "hashwall_sweep_contents_total 2.0" in metrics


def test_uploads_the_policy_would_allow_or_already_judged_are_not_reported(
    hub: Moderation, worker: Worker, engine: Engine
) -> None:
    hub.bank("ncii")
    hub.bank("known-fine", action="allow")
    listed, stored = random_pdq(20), random_pdq(21)
    hub.add("known-fine", [flip_bits(listed, 2)])
    sweep_all(worker)
    hub.match(flip_bits(listed, 8), "allowlisted")
    hub.match(flip_bits(stored, 8), "forgotten")
    hub.flush()
    hub.client.delete("/v1/ledger/forgotten", headers=hub.admin)
    hub.add("ncii", [listed, stored])
    # Uploaded after the hash arrived: its own verdict blocked it, no sweep needed.
    assert hub.match(flip_bits(stored, 6), "after")["verdict"] == "block"
    hub.flush()
    sweep_all(worker)
    assert hits(engine) == []


def test_a_hash_withdrawn_before_its_sweep_reports_nothing(
    hub: Moderation, worker: Worker, engine: Engine
) -> None:
    subscribe(engine)
    hub.bank("ncii")
    stored = random_pdq(30)
    sweep_all(worker)
    hub.match(flip_bits(stored, 5), "copy")
    hub.flush()
    hub.add("ncii", [stored])
    response = hub.client.delete(f"/v1/banks/ncii/hashes/pdq/{stored}", headers=hub.admin)
    assert response.status_code == 200, response.text
    sweep_all(worker)
    assert hits(engine) == [] and events(engine) == []


def test_an_upload_recorded_after_the_sweep_is_checked_when_indexed(
    hub: Moderation, worker: Worker, engine: Engine
) -> None:
    """A verdict given before the hash reached its server, recorded after the sweep."""
    hub.bank("ncii")
    stored = random_pdq(40)
    sweep_all(worker)
    hub.add("ncii", [stored])
    sweep_all(worker)
    sessions = make_session_factory(engine)
    with sessions() as session, session.begin():
        # Its server had not applied the hash's change yet (seen_seq 0).
        ledger_store.append(session, [ledger_row("in-between", flip_bits(stored, 12))])
    sweep_all(worker)
    assert hits(engine) == [("in-between", 12, "block")]


def test_an_unconfirmed_hash_asks_for_review_then_blocks_once_confirmed(
    hub: Moderation, worker: Worker, engine: Engine
) -> None:
    hub.bank("ncii")
    stored = random_pdq(50)
    sweep_all(worker)
    hub.match(flip_bits(stored, 3), "copy")
    hub.flush()
    sessions = make_session_factory(engine)
    from app.models import HashRecord

    hub.add("ncii", [stored])
    with sessions() as session, session.begin():
        record = session.scalar(select(HashRecord))
        assert record is not None
        record.confirmed = False  # as a feed of unconfirmed trust leaves it
        from app.store import changes

        changes.begin_changes(session)
        changes.record_hashes(session, [record.id])
    sweep_all(worker)
    assert hits(engine) == [("copy", 3, "review")]
    with sessions() as session, session.begin():
        from app.store.hashes import confirm_hashes

        confirm_hashes(session, session.scalars(select(HashRecord)).all())
    sweep_all(worker)
    assert hits(engine) == [("copy", 3, "block"), ("copy", 3, "review")]
    with sessions() as session:
        item = session.scalar(select(ReviewItem).where(ReviewItem.content_id == "copy"))
        assert item is not None and item.reason == "sweep"


def test_hits_equal_brute_force_over_a_random_ledger(
    hub: Moderation, worker: Worker, engine: Engine
) -> None:
    """Every upload within the review distance of a new hash, none beyond."""
    rng = random.Random(7)
    hub.bank("ncii")
    sweep_all(worker)
    banked = [random_pdq(100 + n) for n in range(20)]
    uploads: dict[str, str] = {}
    for n in range(300):
        target = rng.choice(banked)
        uploads[f"u{n}"] = flip_bits(target, rng.randrange(0, 70), seed=n)
    with make_session_factory(engine)() as session, session.begin():
        ledger_store.append(session, [ledger_row(c, v, seen_seq=1) for c, v in uploads.items()])
    sweep_all(worker)
    hub.add("ncii", banked)
    sweep_all(worker)

    def distance(a: str, b: str) -> int:
        return bin(int(a, 16) ^ int(b, 16)).count("1")

    expected = sorted(
        (c, d, "block" if d <= 31 else "review")
        for c, v in uploads.items()
        for d in [min(distance(v, b) for b in banked)]
        if d <= 47
    )
    assert hits(engine) == expected
    assert len(expected) > 50


def test_a_bank_enabled_again_has_its_hashes_swept(
    hub: Moderation, worker: Worker, engine: Engine
) -> None:
    hub.bank("ncii")
    stored = random_pdq(60)
    hub.add("ncii", [stored])
    sweep_all(worker)
    response = hub.client.patch("/v1/banks/ncii", json={"enabled": False}, headers=hub.admin)
    assert response.status_code == 200, response.text
    hub.match(flip_bits(stored, 9), "while-off")  # allowed: the bank was off
    hub.flush()
    sweep_all(worker)
    assert hits(engine) == []
    response = hub.client.patch("/v1/banks/ncii", json={"enabled": True}, headers=hub.admin)
    assert response.status_code == 200, response.text
    sweep_all(worker)
    assert hits(engine) == [("while-off", 9, "block")]


def test_a_hit_on_a_hash_withdrawn_before_the_commit_is_dropped(
    hub: Moderation, engine: Engine
) -> None:
    """The last check before hits commit: a withdrawal that landed mid-sweep wins."""
    from app.ledger import hits as hit_store
    from app.models import HashRecord

    hub.bank("ncii")
    kept, withdrawn = random_pdq(70), random_pdq(71)
    hub.add("ncii", [kept, withdrawn])
    hub.client.delete(f"/v1/banks/ncii/hashes/pdq/{withdrawn}", headers=hub.admin)
    sessions = make_session_factory(engine)
    with sessions() as session, session.begin():
        ids = {r.value: r.id for r in session.scalars(select(HashRecord))}
        found = [
            hit_store.Found(
                f"c-{value[:6]}",
                ids[value],
                "ncii",
                "pdq",
                3,
                "original",
                "block",
                "matched",
                utcnow(),
                1,
            )
            for value in (kept, withdrawn)
        ]
        done = hit_store.commit(session, found, utcnow())
    assert done.hits == 1 and hits(engine) == [(f"c-{kept[:6]}", 3, "block")]


def test_the_worker_purges_old_rows_and_everything_once_the_ledger_is_off(
    hub: Moderation, worker: Worker, engine: Engine
) -> None:
    from datetime import timedelta

    from app.models import LedgerEntry

    old = utcnow() - timedelta(days=91)
    with make_session_factory(engine)() as session, session.begin():
        ledger_store.append(
            session,
            [ledger_row("old", random_pdq(80), at=old), ledger_row("new", random_pdq(81))],
        )
    purged = worker.purge()
    assert purged is not None and purged.ledger == 1

    def kept() -> list[str]:
        with make_session_factory(engine)() as session:
            return list(session.scalars(select(LedgerEntry.content_id)))

    assert kept() == ["new"]
    worker.settings = worker.settings.model_copy(update={"ledger_days": 0})
    with make_session_factory(engine)() as session, session.begin():
        session.execute(WorkerLease.__table__.delete())  # the hourly lease, for the test
    purged = worker.purge()
    assert purged is not None and purged.ledger == 1 and kept() == []


def test_a_restarted_sweep_restores_the_ledger_index_from_its_snapshot(
    hub: Moderation, ledger_settings: Settings, engine: Engine, tmp_path: Path
) -> None:
    from app.ledger.sweep import Sweeper
    from matcher.signals import default_registry

    settings = ledger_settings.model_copy(update={"snapshot_dir": tmp_path})
    sessions = make_session_factory(engine)
    with sessions() as session, session.begin():
        ledger_store.append(session, [ledger_row(f"u{n}", random_pdq(90 + n)) for n in range(5)])
    first = Sweeper(settings, engine, sessions, default_registry())
    assert first.step().rows_indexed == 5
    first.stop()  # snapshots the ledger's index
    second = Sweeper(settings, engine, sessions, default_registry())
    again = second.step()
    assert again.rows_indexed == 0 and second.ledger.cursor == first_cursor(engine)
    assert len(second.ledger) == 5


def first_cursor(engine: Engine) -> int:
    with make_session_factory(engine)() as session:
        return ledger_store.head(session)
