"""Bank CRUD and hash batches under /v1/banks."""

from __future__ import annotations

from datetime import datetime, timedelta

from fastapi.testclient import TestClient

from tests.conftest import bearer
from tests.factories import random_pdq


def test_bank_lifecycle(client: TestClient, keys: dict[str, str]) -> None:
    admin = bearer(keys["banks:write"])
    created = client.post(
        "/v1/banks",
        json={"name": "ncii", "action": "block", "description": "StopNCII"},
        headers=admin,
    )
    assert created.status_code == 201
    body = created.json()
    assert body["hash_count"] == 0
    assert datetime.fromisoformat(body["created_at"]).utcoffset() == timedelta(0)
    assert body["thresholds"]["pdq"] == {"match": 31, "review": 47}
    duplicate = client.post("/v1/banks", json={"name": "ncii", "action": "review"}, headers=admin)
    assert duplicate.status_code == 409

    items = [{"signal_type": "pdq", "value": random_pdq(i)} for i in range(5)]
    first = client.post("/v1/banks/ncii/hashes", json={"items": items}, headers=admin).json()
    assert first == {"added": 5, "reactivated": 0, "updated": 0, "unchanged": 0}
    again = client.post("/v1/banks/ncii/hashes", json={"items": items}, headers=admin).json()
    assert again == {"added": 0, "reactivated": 0, "updated": 0, "unchanged": 5}
    items[0]["external_id"] = "case-1"
    changed = client.post("/v1/banks/ncii/hashes", json={"items": items}, headers=admin).json()
    assert changed == {"added": 0, "reactivated": 0, "updated": 1, "unchanged": 4}
    assert client.get("/v1/banks/ncii", headers=admin).json()["hash_count"] == 5

    updated = client.patch(
        "/v1/banks/ncii",
        json={"action": "review", "thresholds": {"pdq": {"match": 20, "review": 40}}},
        headers=admin,
    )
    assert updated.status_code == 200
    assert updated.json()["action"] == "review"
    assert updated.json()["thresholds"]["pdq"] == {"match": 20, "review": 40}
    assert updated.json()["thresholds"]["phash"] == {"match": 4, "review": 8}

    listed = client.get("/v1/banks", headers=bearer(keys["banks:read"])).json()["banks"]
    assert [(b["name"], b["hash_count"]) for b in listed] == [("ncii", 5)]

    assert client.delete("/v1/banks/ncii", headers=admin).status_code == 204
    assert client.get("/v1/banks/ncii", headers=admin).status_code == 404
    match = client.post(
        "/v1/match", json={"items": items[1:2]}, headers=bearer(keys["match"])
    ).json()
    assert match["results"][0]["verdict"] == "allow"


def test_invalid_bank_settings(client: TestClient, keys: dict[str, str]) -> None:
    admin = bearer(keys["banks:write"])
    cases = [
        {"name": "bad name!", "action": "block"},
        {"name": "ok", "action": "delete"},
        {"name": "ok", "action": "block", "thresholds": {"pdq": {"match": 40, "review": 30}}},
        {"name": "ok", "action": "block", "thresholds": {"md5": {"match": 1, "review": 1}}},
        {"name": "ok", "action": "block", "thresholds": {"xyz": {"match": 1, "review": 1}}},
    ]
    for body in cases:
        response = client.post("/v1/banks", json=body, headers=admin)
        assert response.status_code == 422, body
        assert response.headers["content-type"].startswith("application/problem+json")
    assert client.get("/v1/banks", headers=admin).json()["banks"] == []
    missing = client.patch("/v1/banks/none", json={"enabled": False}, headers=admin)
    assert missing.status_code == 404
    client.post("/v1/banks", json={"name": "ok", "action": "block"}, headers=admin)
    null = client.patch("/v1/banks/ok", json={"enabled": None}, headers=admin)
    assert null.status_code == 422


def test_removing_an_absent_hash(client: TestClient, keys: dict[str, str]) -> None:
    admin = bearer(keys["banks:write"])
    client.post("/v1/banks", json={"name": "ncii", "action": "block"}, headers=admin)
    response = client.delete(f"/v1/banks/ncii/hashes/pdq/{random_pdq(1)}", headers=admin)
    assert response.status_code == 404
    response = client.delete("/v1/banks/ncii/hashes/pdq/nothex", headers=admin)
    assert response.status_code == 422


def test_provenance_is_kept(client: TestClient, keys: dict[str, str], session) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy import select

    from app.models import HashRecord

    admin = bearer(keys["banks:write"])
    client.post("/v1/banks", json={"name": "ncii", "action": "block"}, headers=admin)
    value = random_pdq(3)
    item = {"signal_type": "pdq", "value": value.upper(), "external_id": "E1", "case_ref": "C1"}
    client.post(
        "/v1/banks/ncii/hashes", json={"items": [item], "source": "stopncii"}, headers=admin
    )
    client.delete(f"/v1/banks/ncii/hashes/pdq/{value}", headers=admin)
    record = session.scalar(select(HashRecord))
    assert record.value == value
    assert (record.external_id, record.case_ref, record.source) == ("E1", "C1", "stopncii")
    assert record.status == "deleted"
    assert record.first_seen is not None
