"""Health, readiness, metrics and the OpenAPI document."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.conftest import bearer
from tests.factories import random_pdq


def test_health_and_readiness(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok", "checks": {}}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"database": "ok", "index": "ok", "changes": "ok"}


def test_not_ready_while_index_not_loaded(client: TestClient) -> None:
    client.app.state.hashwall.live.loaded = False  # type: ignore[attr-defined]
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["index"] == "loading"


def test_metrics(client: TestClient, keys: dict[str, str]) -> None:
    admin = bearer(keys["all"])
    client.post("/v1/banks", json={"name": "ncii", "action": "block"}, headers=admin)
    value = random_pdq(1)
    client.post(
        "/v1/banks/ncii/hashes",
        json={"items": [{"signal_type": "pdq", "value": value}]},
        headers=admin,
    )
    client.post(
        "/v1/match",
        json={"items": [{"signal_type": "pdq", "value": value}]},
        headers=bearer(keys["match"]),
    )
    text = client.get("/metrics").text
    assert 'hashwall_index_hashes{signal_type="pdq"} 1.0' in text
    assert 'hashwall_verdicts_total{reason="matched",verdict="block"} 1.0' in text
    assert 'hashwall_http_requests_total{method="POST",route="/v1/match",status="200"} 1.0' in text
    assert 'route="/v1/banks/{name}/hashes"' in text
    assert value not in text


def test_openapi_documents_the_contract(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    paths = spec["paths"]
    for path in [
        "/v1/match",
        "/v1/match/media",
        "/v1/banks",
        "/v1/banks/{name}",
        "/v1/banks/{name}/hashes",
        "/v1/banks/{name}/media",
    ]:
        assert path in paths, path
    media = paths["/v1/match/media"]["post"]["requestBody"]["content"]
    assert "multipart/form-data" in media
    # Every /v1 route says it needs a bearer key; the health and metrics routes do not.
    assert spec["components"]["securitySchemes"]["apiKey"] == {
        "type": "http",
        "scheme": "bearer",
        "description": spec["components"]["securitySchemes"]["apiKey"]["description"],
    }
    for path, operations in paths.items():
        for operation in operations.values():
            assert (operation.get("security") == [{"apiKey": []}]) == path.startswith("/v1"), path
