"""The audit trail: rows from every kind of change, written with the change, filtered
through HTTP, exported and verified by the CLI, and tampering found."""

from __future__ import annotations

import csv
import io
import json

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from app.cli import main
from tests.app.conftest import Moderation
from tests.factories import random_pdq


@pytest.fixture
def run(database_url: str, engine: Engine):  # type: ignore[no-untyped-def]
    runner = CliRunner()

    def invoke(*args: str, code: int = 0) -> str:
        result = runner.invoke(main, list(args), env={"HASHWALL_DATABASE_URL": database_url})
        assert result.exit_code == code, (result.output, result.stderr, result.exception)
        return result.stdout + result.stderr

    return invoke


def changes_through_http(moderation: Moderation, client: TestClient) -> None:
    moderation.bank("ncii")
    moderation.add("ncii", [random_pdq(n) for n in range(100)])
    client.patch("/v1/banks/ncii", json={"description": "StopNCII"}, headers=moderation.admin)
    client.delete(f"/v1/banks/ncii/hashes/pdq/{random_pdq(3)}", headers=moderation.admin)
    client.post(
        "/v1/webhooks",
        json={"url": "https://platform.example/h", "events": ["review.decided"]},
        headers=moderation.admin,
    )


def test_every_change_is_one_row(moderation: Moderation, client: TestClient) -> None:
    changes_through_http(moderation, client)
    page = client.get("/v1/audit", headers=moderation.admin).json()
    actions = [row["action"] for row in page["items"]]
    # Newest first; the keys the fixture made come first of all.
    assert actions[:5] == [
        "webhook.create",
        "hash.remove",
        "bank.update",
        "hashes.add",
        "bank.create",
    ]
    assert set(actions[5:]) == {"key.create"}
    bulk = page["items"][3]
    assert bulk["actor"] == "key:key-admin" and bulk["target"] == "bank:ncii"
    assert bulk["details"]["count"] == 100 and len(bulk["details"]["digest"]) == 64
    only = client.get(
        "/v1/audit", params={"action": "bank.update"}, headers=moderation.admin
    ).json()["items"]
    assert [r["details"] for r in only] == [{"description": "StopNCII"}]
    by_target = client.get("/v1/audit", params={"target": "bank:ncii"}, headers=moderation.admin)
    assert len(by_target.json()["items"]) == 4
    seen, cursor = [], None
    while True:
        params = {"limit": "3", **({"cursor": cursor} if cursor else {})}
        got = client.get("/v1/audit", params=params, headers=moderation.admin).json()
        seen += [r["id"] for r in got["items"]]
        cursor = got["next"]
        if cursor is None:
            break
    assert seen == [r["id"] for r in page["items"]]
    since = page["items"][0]["created_at"]
    recent = client.get("/v1/audit", params={"since": since}, headers=moderation.admin).json()
    assert [r["action"] for r in recent["items"]] == ["webhook.create"]
    forbidden = client.get(
        "/v1/audit", headers={"Authorization": f"Bearer {moderation.keys['review']}"}
    )
    assert forbidden.status_code == 403


def test_a_refused_change_writes_no_row(moderation: Moderation, client: TestClient) -> None:
    moderation.bank("ncii")
    before = len(client.get("/v1/audit", headers=moderation.admin).json()["items"])
    bad = client.post(
        "/v1/banks/ncii/hashes",
        json={"items": [{"signal_type": "pdq", "value": "zz"}]},
        headers=moderation.admin,
    )
    assert bad.status_code == 422
    assert len(client.get("/v1/audit", headers=moderation.admin).json()["items"]) == before


def test_cli_changes_are_audited_and_exported(run) -> None:  # type: ignore[no-untyped-def]
    run("keys", "create", "--name", "pipeline", "--scopes", "match")
    run("banks", "create", "ncii")
    run("keys", "revoke", "pipeline")
    rows = [json.loads(line) for line in run("audit", "export").splitlines()]
    assert [r["action"] for r in rows] == ["key.create", "bank.create", "key.revoke"]
    assert all(r["actor"].startswith("cli") for r in rows)
    table = list(
        csv.DictReader(
            io.StringIO(run("audit", "export", "--format", "csv", "--action", "key.revoke"))
        )
    )
    assert [r["target"] for r in table] == ["key:pipeline"]
    assert "3 rows" in run("audit", "verify")


@pytest.mark.parametrize(
    "tamper, row",
    [
        ("UPDATE audit SET actor = 'someone-else' WHERE id = 2", 2),
        ('UPDATE audit SET details = \'{"scopes": ["admin"]}\' WHERE id = 1', 1),
        ("DELETE FROM audit WHERE id = 2", 3),
        ("UPDATE audit SET created_at = created_at + interval '1 second' WHERE id = 3", 3),
    ],
)
def test_tampering_is_found(run, engine: Engine, tamper: str, row: int) -> None:  # type: ignore[no-untyped-def]
    run("keys", "create", "--name", "a", "--scopes", "match")
    run("keys", "create", "--name", "b", "--scopes", "match")
    run("banks", "create", "ncii")
    run("banks", "create", "other")
    assert "4 rows" in run("audit", "verify")
    if engine.dialect.name == "sqlite":
        tamper = tamper.replace(
            "created_at + interval '1 second'", "datetime(created_at, '+1 second')"
        )
    with engine.begin() as connection:
        connection.execute(text(tamper))
    assert f"broken at row {row}" in run("audit", "verify", code=1)


def test_reordering_is_found(run, engine: Engine) -> None:  # type: ignore[no-untyped-def]
    for name in ("a", "b", "c"):
        run("banks", "create", name)
    with engine.begin() as connection:
        # Swap the contents of rows 1 and 2, hashes and all.
        connection.execute(text("UPDATE audit SET id = 100 WHERE id = 1"))
        connection.execute(text("UPDATE audit SET id = 1 WHERE id = 2"))
        connection.execute(text("UPDATE audit SET id = 2 WHERE id = 100"))
    assert "broken at row 1" in run("audit", "verify", code=1)
