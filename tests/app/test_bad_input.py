"""Bad input gets a 4xx problem+json naming what was wrong; never a 500, never a partial write."""

from __future__ import annotations

import struct
import time
import zlib

import pytest
from fastapi.testclient import TestClient

from app.config import Settings
from app.main import create_app
from tests.conftest import bearer
from tests.factories import photo, random_pdq


def assert_problem(response, status: int, *needles: str) -> dict:  # type: ignore[no-untyped-def]
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["status"] == status
    assert body["title"]
    for needle in needles:
        assert needle in body["detail"], body
    return body


def png_bomb(width: int = 20000, height: int = 20000) -> bytes:
    """A valid 1-bit PNG of width x height that is tiny on disk and huge decoded."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    row = b"\x00" + b"\x00" * ((width + 7) // 8)
    compressor = zlib.compressobj(9)
    raw = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", raw) + chunk(b"IEND", b"")


@pytest.mark.parametrize(
    ("item", "needle"),
    [
        ({"signal_type": "pdq", "value": "zz" * 32}, "not hexadecimal"),
        ({"signal_type": "pdq", "value": "ab" * 10}, "64 hex characters"),
        ({"signal_type": "phash", "value": "ab" * 32}, "16 hex characters"),
        ({"signal_type": "nope", "value": "ab" * 32}, "unknown signal type 'nope'"),
        ({"signal_type": "pdq"}, "/items/0/value"),
        ({"signal_type": "pdq", "value": 12}, "/items/0/value"),
    ],
)
def test_invalid_items(client: TestClient, keys: dict[str, str], item: dict, needle: str) -> None:
    response = client.post("/v1/match", json={"items": [item]}, headers=bearer(keys["match"]))
    assert_problem(response, 422, needle)


def test_every_invalid_item_is_named(client: TestClient, keys: dict[str, str]) -> None:
    items = [
        {"signal_type": "pdq", "value": random_pdq(1)},
        {"signal_type": "pdq", "value": "xyz"},
        {"signal_type": "pdq", "value": random_pdq(2)},
        {"signal_type": "md5", "value": "q" * 32},
    ]
    response = client.post("/v1/match", json={"items": items}, headers=bearer(keys["match"]))
    body = assert_problem(response, 422, "2 invalid item(s)")
    assert [e["pointer"] for e in body["errors"]] == ["/items/1", "/items/3"]


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        (b"", "body is empty"),
        (b"{not json", "JSON"),
        (b"{}", "/items"),
        (b'{"items": []}', "/items"),
        (b'{"items": [], "extra": 1}', "/extra"),
    ],
)
def test_malformed_bodies(
    client: TestClient, keys: dict[str, str], content: bytes, needle: str
) -> None:
    headers = {**bearer(keys["match"]), "Content-Type": "application/json"}
    response = client.post("/v1/match", content=content, headers=headers)
    assert_problem(response, 422, needle)


def test_malformed_json_is_located_by_character_not_by_a_false_pointer(
    client: TestClient, keys: dict[str, str]
) -> None:
    headers = {**bearer(keys["match"]), "Content-Type": "application/json"}
    response = client.post("/v1/match", content=b'{"items": [1,,2]}', headers=headers)
    body = assert_problem(response, 422, "malformed JSON at character 13")
    assert body["errors"] == [
        {"pointer": "", "detail": body["errors"][0]["detail"], "position": 13}
    ]
    assert not body["detail"].startswith(":")


def test_over_1000_items(client: TestClient, keys: dict[str, str]) -> None:
    items = [{"signal_type": "pdq", "value": random_pdq(i)} for i in range(1001)]
    response = client.post("/v1/match", json={"items": items}, headers=bearer(keys["match"]))
    assert_problem(response, 422, "1001 items", "at most 1000")
    items.pop()
    response = client.post("/v1/match", json={"items": items}, headers=bearer(keys["match"]))
    assert response.status_code == 200
    assert len(response.json()["results"]) == 1000


def test_huge_json_body_is_refused_before_parsing(client: TestClient, keys: dict[str, str]) -> None:
    limit = client.app.state.hashwall.settings.max_json_bytes  # type: ignore[attr-defined]
    body = b'{"items": [' + b" " * limit + b"]}"
    headers = {**bearer(keys["match"]), "Content-Type": "application/json"}
    assert_problem(client.post("/v1/match", content=body, headers=headers), 413, "over the limit")

    def chunks():  # no Content-Length: counted while streaming
        yield b'{"items": ['
        for _ in range(limit // 65536 + 2):
            yield b" " * 65536
        yield b"]}"

    assert_problem(client.post("/v1/match", content=chunks(), headers=headers), 413)


def test_bank_batch_is_all_or_nothing(client: TestClient, keys: dict[str, str]) -> None:
    admin = bearer(keys["all"])
    client.post("/v1/banks", json={"name": "ncii", "action": "block"}, headers=admin)
    items = [
        {"signal_type": "pdq", "value": random_pdq(1)},
        {"signal_type": "pdq", "value": "0" * 64},
        {"signal_type": "pdq", "value": "bad"},
    ]
    response = client.post("/v1/banks/ncii/hashes", json={"items": items}, headers=admin)
    body = assert_problem(response, 422)
    assert [e["pointer"] for e in body["errors"]] == ["/items/2"]
    response = client.post("/v1/banks/ncii/hashes", json={"items": items[:2]}, headers=admin)
    body = assert_problem(response, 422, "degenerate")
    assert [e["pointer"] for e in body["errors"]] == ["/items/1"]
    assert client.get("/v1/banks/ncii", headers=admin).json()["hash_count"] == 0


def upload(client: TestClient, key: str, data: bytes, name: str = "f", kind: str = "image/jpeg"):  # type: ignore[no-untyped-def]
    return client.post("/v1/match/media", files=[("file", (name, data, kind))], headers=bearer(key))


def test_truncated_jpeg(client: TestClient, keys: dict[str, str]) -> None:
    data = photo(1)
    assert_problem(upload(client, keys["match"], data[: len(data) // 2]), 422, "truncated")


def test_random_bytes(client: TestClient, keys: dict[str, str]) -> None:
    noise = bytes(range(256)) * 64
    assert_problem(upload(client, keys["match"], noise), 415, "not an image")


def test_one_pixel_image(client: TestClient, keys: dict[str, str]) -> None:
    import numpy as np

    from tests.factories import encode

    tiny = encode(np.zeros((1, 1, 3), np.uint8), ".png")
    assert_problem(upload(client, keys["match"], tiny, "dot.png", "image/png"), 422, "1x1")


def test_decompression_bomb_is_refused_from_the_header(
    client: TestClient, keys: dict[str, str]
) -> None:
    bomb = png_bomb()
    assert len(bomb) < 200_000
    body = assert_problem(upload(client, keys["match"], bomb, "bomb.png", "image/png"), 413)
    assert "20000x20000" in body["detail"]


def test_file_over_byte_limit(client: TestClient, keys: dict[str, str]) -> None:
    limit = client.app.state.hashwall.settings.max_upload_bytes  # type: ignore[attr-defined]
    assert_problem(upload(client, keys["match"], b"\xff" * (limit + 1)), 413, "over the limit")


def test_empty_file(client: TestClient, keys: dict[str, str]) -> None:
    assert_problem(upload(client, keys["match"], b""), 422, "empty")


def test_unsupported_content_type(client: TestClient, keys: dict[str, str]) -> None:
    response = client.post(
        "/v1/match/media",
        content=photo(1),
        headers={**bearer(keys["match"]), "Content-Type": "image/jpeg"},
    )
    assert_problem(response, 415, "multipart/form-data")
    response = client.post(
        "/v1/match",
        content=b"items=1",
        headers={**bearer(keys["match"]), "Content-Type": "text/plain"},
    )
    assert response.status_code in (415, 422)
    assert response.headers["content-type"].startswith("application/problem+json")


def test_multipart_without_file_field(client: TestClient, keys: dict[str, str]) -> None:
    response = client.post(
        "/v1/match/media",
        files=[("image", ("a.jpg", photo(1), "image/jpeg"))],
        headers=bearer(keys["match"]),
    )
    assert_problem(response, 422, "no 'file' part")


def test_bad_file_among_good_ones_names_it(client: TestClient, keys: dict[str, str]) -> None:
    files = [
        ("file", ("good.jpg", photo(1), "image/jpeg")),
        ("file", ("bad.jpg", b"nonsense" * 10, "image/jpeg")),
    ]
    response = client.post("/v1/match/media", files=files, headers=bearer(keys["match"]))
    assert_problem(response, 415, "/file/1 (bad.jpg)")


def test_bad_media_into_bank_writes_nothing(client: TestClient, keys: dict[str, str]) -> None:
    admin = bearer(keys["all"])
    client.post("/v1/banks", json={"name": "ncii", "action": "block"}, headers=admin)
    files = [
        ("file", ("good.jpg", photo(1), "image/jpeg")),
        ("file", ("bad.jpg", photo(2)[:500], "image/jpeg")),
    ]
    response = client.post("/v1/banks/ncii/media", files=files, headers=admin)
    assert_problem(response, 422, "/file/1")
    assert client.get("/v1/banks/ncii", headers=admin).json()["hash_count"] == 0


@pytest.mark.parametrize(
    ("headers", "needle"),
    [
        ({}, "missing Authorization"),
        ({"Authorization": "Basic abc"}, "Bearer"),
        ({"Authorization": "Bearer hw_not-a-real-key"}, "invalid API key"),
    ],
)
def test_missing_or_invalid_key(client: TestClient, headers: dict, needle: str) -> None:
    for method, path in [("post", "/v1/match"), ("get", "/v1/banks"), ("post", "/v1/match/media")]:
        response = getattr(client, method)(path, headers=headers)
        body = assert_problem(response, 401, needle)
        assert response.headers["www-authenticate"] == "Bearer"
        assert body["instance"] == path


def revoke(client: TestClient, name: str) -> None:
    """Revoke a key as `hashwall keys revoke` does, behind the server's back."""
    from app.auth import revoke_key

    state = client.app.state.hashwall  # type: ignore[attr-defined]
    with state.sessions() as session, session.begin():
        revoke_key(session, name)


def test_revoked_key_with_no_key_cache(settings: Settings, keys: dict[str, str]) -> None:
    item = {"items": [{"signal_type": "pdq", "value": random_pdq(1)}]}
    uncached = settings.model_copy(update={"key_cache_seconds": 0})
    with TestClient(create_app(uncached), raise_server_exceptions=False) as client:
        assert client.post("/v1/match", json=item, headers=bearer(keys["match"])).status_code == 200
        revoke(client, "key-match")
        response = client.post("/v1/match", json=item, headers=bearer(keys["match"]))
        assert_problem(response, 401, "revoked")


def test_a_revoked_key_is_refused_once_the_cache_has_let_it_go(
    settings: Settings, keys: dict[str, str]
) -> None:
    item = {"items": [{"signal_type": "pdq", "value": random_pdq(1)}]}
    cached = settings.model_copy(update={"key_cache_seconds": 1.5})
    with TestClient(create_app(cached), raise_server_exceptions=False) as client:
        asked = time.monotonic()
        assert client.post("/v1/match", json=item, headers=bearer(keys["match"])).status_code == 200
        answered = time.monotonic()  # the key was kept between `asked` and now
        revoke(client, "key-match")
        # Within the cache's time the server answers without asking the database...
        again = client.post("/v1/match", json=item, headers=bearer(keys["match"]))
        assert again.status_code == 200 or time.monotonic() - asked >= 1.5
        # ...and after it, the revocation holds.
        time.sleep(max(0.0, answered + 1.6 - time.monotonic()))
        response = client.post("/v1/match", json=item, headers=bearer(keys["match"]))
        assert_problem(response, 401, "revoked")
        assert_problem(client.post("/v1/match", json=item, headers=bearer(keys["match"])), 401)


def test_a_refused_key_is_not_remembered(client: TestClient) -> None:
    from app.auth import hash_secret
    from app.models import ApiKey

    item = {"items": [{"signal_type": "pdq", "value": random_pdq(1)}]}
    secret = "hw_" + "a" * 43
    assert_problem(client.post("/v1/match", json=item, headers=bearer(secret)), 401, "invalid")
    # The same secret, stored a moment later, works on the next request.
    state = client.app.state.hashwall  # type: ignore[attr-defined]
    with state.sessions() as session, session.begin():
        stored = hash_secret(secret)
        session.add(ApiKey(name="late", prefix=secret[:8], secret_hash=stored, scopes=["match"]))
    assert client.post("/v1/match", json=item, headers=bearer(secret)).status_code == 200


@pytest.mark.parametrize(
    ("method", "path", "scope", "needed"),
    [
        ("post", "/v1/match", "banks:read", "match"),
        ("get", "/v1/banks", "match", "banks:read"),
        ("post", "/v1/banks", "banks:read", "banks:write"),
        ("delete", "/v1/banks/x", "match:details", "banks:write"),
    ],
)
def test_key_without_scope(
    client: TestClient, keys: dict[str, str], method: str, path: str, scope: str, needed: str
) -> None:
    kwargs = (
        {"json": {"name": "x", "action": "block"}}
        if path == "/v1/banks" and method == "post"
        else {}
    )
    if path == "/v1/match":
        kwargs = {"json": {"items": [{"signal_type": "pdq", "value": random_pdq(1)}]}}
    response = getattr(client, method)(path, headers=bearer(keys[scope]), **kwargs)
    assert_problem(response, 403, f"lacks the '{needed}' scope")


def test_unknown_route_is_a_problem(client: TestClient) -> None:
    assert_problem(client.get("/v1/nothing-here"), 404)


def test_bad_decisions_and_feed_listing_without_a_key(
    client: TestClient, keys: dict[str, str]
) -> None:
    client.post("/v1/banks", json={"name": "ncii", "action": "block"}, headers=bearer(keys["all"]))
    url = "/v1/banks/ncii/hashes/decisions"
    item = {"signal_type": "pdq", "value": random_pdq(1)}
    assert_problem(
        client.post(url, json={"decision": "maybe", "items": [item]}, headers=bearer(keys["all"])),
        422,
    )
    bad_hex = {"decision": "confirm", "items": [{"signal_type": "pdq", "value": "xyz"}]}
    assert_problem(client.post(url, json=bad_hex, headers=bearer(keys["all"])), 422, "/items/0")
    missing = {"decision": "confirm", "items": [item]}
    assert_problem(
        client.post("/v1/banks/nope/hashes/decisions", json=missing, headers=bearer(keys["all"])),
        404,
        "no bank named 'nope'",
    )
    # A hash that is not in the bank is reported, not an error.
    found = client.post(url, json=missing, headers=bearer(keys["all"]))
    assert found.json() == {"found": 0, "confirmed": 0, "feedback": 0, "not_found": [item]}
    assert_problem(client.post(url, json=missing, headers=bearer(keys["match"])), 403)
    assert_problem(client.get("/v1/feeds"), 401)
