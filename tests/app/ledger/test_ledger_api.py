"""The content ledger through HTTP and the CLI: what is recorded, who may read it, and
forgetting a content id."""

from __future__ import annotations

import logging

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select

from app.cli import main
from app.db import make_session_factory
from app.models import AuditRow, LedgerEntry
from tests.app.conftest import Moderation
from tests.app.ledger.conftest import ledger_row
from tests.conftest import bearer
from tests.factories import photo, random_pdq


def count_rows(engine: Engine, content_id: str) -> int:
    with make_session_factory(engine)() as session:
        return int(
            session.scalar(
                select(func.count())
                .select_from(LedgerEntry)
                .where(LedgerEntry.content_id == content_id)
            )
            or 0
        )


def test_off_by_default_nothing_is_recorded(
    moderation: Moderation, engine: Engine, keys: dict[str, str]
) -> None:
    moderation.match(random_pdq(1), "upload-1")
    moderation.flush()
    assert count_rows(engine, "upload-1") == 0
    response = moderation.client.get("/v1/ledger/upload-1", headers=bearer(keys["admin"]))
    assert response.json() == {"content_id": "upload-1", "recorded": False, "hashes": {}}


def test_a_named_lookup_is_recorded_and_shown_without_its_hashes(
    hub: Moderation, engine: Engine, keys: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    value = random_pdq(2)
    with caplog.at_level(logging.DEBUG):
        hub.match(value, "upload/1")
        hub.match(random_pdq(3), None)  # no content id: nothing to record
        hub.flush()
    assert value not in caplog.text
    assert count_rows(engine, "upload/1") == 1
    response = hub.client.get("/v1/ledger/upload/1", headers=bearer(keys["admin"]))
    assert response.status_code == 200
    body = response.json()
    assert body["recorded"] is True and body["hashes"] == {"pdq": 1}
    assert body["first_recorded_at"] <= body["last_recorded_at"]
    assert value not in response.text
    # Only admin reads the ledger: not even a moderator or a bank writer.
    for scope in ("match", "review", "banks:write", "banks:read"):
        denied = hub.client.get("/v1/ledger/upload/1", headers=bearer(keys[scope]))
        assert denied.status_code == 403, scope


def test_media_records_its_hashes_and_candidates(
    ledger_client: TestClient, engine: Engine, keys: dict[str, str]
) -> None:
    response = ledger_client.post(
        "/v1/match/media",
        files=[("file", ("a.jpg", photo(4), "image/jpeg"))],
        data={"content_id": "media-1"},
        headers=bearer(keys["match"]),
    )
    assert response.status_code == 200, response.text
    ledger_client.app.state.hashwall.recorder.flush()  # type: ignore[attr-defined]
    with make_session_factory(engine)() as session:
        rows = session.execute(
            select(LedgerEntry.signal_type, LedgerEntry.candidate, LedgerEntry.quality).where(
                LedgerEntry.content_id == "media-1"
            )
        ).all()
    kinds = {signal for signal, _, _ in rows}
    assert {"pdq", "md5", "sha256"} <= kinds
    own_pdq = [q for s, c, q in rows if s == "pdq" and c is None]
    assert len(own_pdq) == 1 and own_pdq[0] is not None  # with its quality
    assert any(c is not None for s, c, _ in rows if s == "pdq")  # the candidates too


def test_forgetting_deletes_at_once_and_is_audited(
    hub: Moderation, engine: Engine, keys: dict[str, str]
) -> None:
    hub.match(random_pdq(5), "gone-1")
    hub.flush()
    hub.match(random_pdq(6), "gone-1")  # queued, perhaps not yet written: dropped when it is
    response = hub.client.delete("/v1/ledger/gone-1", headers=bearer(keys["banks:write"]))
    assert response.status_code == 200, response.text
    assert response.json()["forgotten"] in (1, 2)
    hub.flush()
    assert count_rows(engine, "gone-1") == 0
    again = hub.client.delete("/v1/ledger/gone-1", headers=bearer(keys["banks:write"]))
    assert again.json()["forgotten"] == 0
    denied = hub.client.delete("/v1/ledger/gone-1", headers=bearer(keys["match"]))
    assert denied.status_code == 403
    with make_session_factory(engine)() as session:
        actions = session.scalars(select(AuditRow.action)).all()
    assert actions.count("ledger.forget") == 2


def test_rows_still_queued_when_forgotten_are_dropped(hub: Moderation, engine: Engine) -> None:
    """Rows recorded before a forget but written after it (another server's queue)."""
    from datetime import timedelta

    from app.ledger import store
    from app.models import utcnow

    response = hub.client.delete("/v1/ledger/late-1", headers=hub.admin)
    assert response.status_code == 200
    now = utcnow()
    with make_session_factory(engine)() as session, session.begin():
        written = store.append(
            session,
            [
                ledger_row("late-1", random_pdq(7), at=now - timedelta(seconds=1)),
                ledger_row("late-1", random_pdq(8), at=now + timedelta(seconds=5)),
            ],
        )
    assert written == 1  # the older is dropped; an upload after the forget is recorded
    assert count_rows(engine, "late-1") == 1


def test_a_bad_content_id_is_a_problem(hub: Moderation, keys: dict[str, str]) -> None:
    for path in ("/v1/ledger/a%00b", "/v1/ledger/" + "x" * 201):
        response = hub.client.get(path, headers=bearer(keys["admin"]))
        assert response.status_code == 422, path
        assert response.headers["content-type"].startswith("application/problem+json")
        assert "content id" in response.json()["detail"]


def test_the_cli_shows_and_forgets(hub: Moderation, engine: Engine, database_url: str) -> None:
    hub.match(random_pdq(6), "cli-1")
    hub.flush()
    env = {"HASHWALL_DATABASE_URL": database_url}
    shown = CliRunner().invoke(main, ["ledger", "show", "cli-1"], env=env)
    assert shown.exit_code == 0 and "recorded" in shown.output and "1 pdq" in shown.output
    forgot = CliRunner().invoke(main, ["ledger", "forget", "cli-1"], env=env)
    assert forgot.exit_code == 0 and "1 recorded hashes forgotten" in forgot.output
    shown = CliRunner().invoke(main, ["ledger", "show", "cli-1", "--json"], env=env)
    assert '"recorded": false' in shown.output
    assert count_rows(engine, "cli-1") == 0
