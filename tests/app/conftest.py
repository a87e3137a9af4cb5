"""Helpers for the moderation tests: banks, hashes, and verdicts that queue items."""

from __future__ import annotations

from typing import Any

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from app.cli import main
from tests.conftest import bearer
from tests.factories import flip_bits, random_pdq


class Moderation:
    """Drives one app through HTTP: banks, hashes, lookups, the recorder's flush."""

    def __init__(self, client: TestClient, keys: dict[str, str]) -> None:
        self.client = client
        self.keys = keys
        self.admin = bearer(keys["admin"])

    def bank(self, name: str, action: str = "block", **extra: Any) -> None:
        response = self.client.post(
            "/v1/banks", json={"name": name, "action": action, **extra}, headers=self.admin
        )
        assert response.status_code == 201, response.text

    def add(self, bank: str, values: list[str], **extra: Any) -> None:
        items = [{"signal_type": "pdq", "value": v, **extra} for v in values]
        response = self.client.post(
            f"/v1/banks/{bank}/hashes", json={"items": items}, headers=self.admin
        )
        assert response.status_code == 200, response.text

    def match(self, value: str, content_id: str | None, key: str = "match") -> dict[str, Any]:
        item: dict[str, Any] = {"signal_type": "pdq", "value": value}
        if content_id is not None:
            item["content_id"] = content_id
        response = self.client.post(
            "/v1/match", json={"items": [item]}, headers=bearer(self.keys[key])
        )
        assert response.status_code == 200, response.text
        return response.json()["results"][0]

    def flush(self) -> None:
        """Write what verdicts left behind now (the recorder does it every 0.5 s)."""
        self.client.app.state.hashwall.recorder.flush()  # type: ignore[attr-defined]

    def items(self, key: str = "admin", **params: str) -> list[dict[str, Any]]:
        response = self.client.get("/v1/reviews", params=params, headers=bearer(self.keys[key]))
        assert response.status_code == 200, response.text
        return response.json()["items"]

    def review_item(self, bank: str = "ncii", content_id: str = "upload-1") -> dict[str, Any]:
        """A bank with one hash, and one review item from a near match on it."""
        stored = random_pdq(1)
        self.bank(bank)
        self.add(bank, [stored])
        near = flip_bits(stored, 40)  # in the review band (31 < 40 <= 47)
        assert self.match(near, content_id)["verdict"] == "review"
        self.flush()
        (item,) = [i for i in self.items() if i["content_id"] == content_id]
        return item


@pytest.fixture
def run(database_url: str):  # type: ignore[no-untyped-def]
    """`run(*args, code=0)`: the hashwall command on the test database; its output."""
    runner = CliRunner()

    def invoke(*args: str, code: int = 0, stdin: str | None = None) -> str:
        result = runner.invoke(
            main, list(args), env={"HASHWALL_DATABASE_URL": database_url}, input=stdin
        )
        assert result.exit_code == code, (result.output, result.stderr, result.exception)
        return result.stdout + result.stderr

    invoke("db", "upgrade")
    return invoke


@pytest.fixture
def moderation(client: TestClient, keys: dict[str, str]) -> Moderation:
    return Moderation(client, keys)
