"""POST /v1/match and /v1/match/media through HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.conftest import bearer
from tests.factories import flip_bits, pdq_hex, photo, random_pdq


def make_bank(client: TestClient, key: str, name: str, action: str, **extra: object) -> None:
    response = client.post(
        "/v1/banks", json={"name": name, "action": action, **extra}, headers=bearer(key)
    )
    assert response.status_code == 201, response.text


def add(client: TestClient, key: str, bank: str, values: list[str], **extra: object) -> dict:
    items = [{"signal_type": "pdq", "value": v, **extra} for v in values]
    response = client.post(f"/v1/banks/{bank}/hashes", json={"items": items}, headers=bearer(key))
    assert response.status_code == 200, response.text
    return response.json()


def match(client: TestClient, key: str, values: list[str], **extra: object) -> list[dict]:
    items = [{"signal_type": "pdq", "value": v, **extra} for v in values]
    response = client.post("/v1/match", json={"items": items}, headers=bearer(key))
    assert response.status_code == 200, response.text
    return response.json()["results"]


def test_verdicts_follow_distance_bands(client: TestClient, keys: dict[str, str]) -> None:
    admin = keys["all"]
    make_bank(client, admin, "ncii", "block")
    stored = random_pdq(1)
    add(client, admin, "ncii", [stored], external_id="case-77")
    queries = [
        stored,  # exact
        flip_bits(stored, 31),  # at the match threshold: block
        flip_bits(stored, 32),  # just over: review band
        flip_bits(stored, 47),  # at the review threshold
        flip_bits(stored, 48),  # beyond: no match
    ]
    results = match(client, keys["match:details"], queries)
    assert [r["verdict"] for r in results] == ["block", "block", "review", "review", "allow"]
    assert [r["reason"] for r in results] == [
        "matched",
        "matched",
        "near_match",
        "near_match",
        "no_match",
    ]
    first = results[0]["matches"][0]
    assert first["bank"] == "ncii"
    assert first["distance"] == 0
    assert first["external_id"] == "case-77"
    assert results[1]["matches"][0]["distance"] == 31


def test_match_scope_learns_verdict_only(client: TestClient, keys: dict[str, str]) -> None:
    make_bank(client, keys["all"], "ncii", "block")
    stored = random_pdq(2)
    add(client, keys["all"], "ncii", [stored], external_id="secret-case")
    response = client.post(
        "/v1/match",
        json={"items": [{"signal_type": "pdq", "value": stored, "content_id": "upload-1"}]},
        headers=bearer(keys["match"]),
    )
    assert response.status_code == 200
    body = response.json()
    assert body["results"] == [
        {"verdict": "block", "reason": "matched", "content_id": "upload-1", "matches": []}
    ]
    assert "secret-case" not in response.text
    assert "ncii" not in response.text


def test_results_are_in_order_one_per_item(client: TestClient, keys: dict[str, str]) -> None:
    make_bank(client, keys["all"], "ncii", "block")
    banked = [random_pdq(seed) for seed in range(10, 20)]
    add(client, keys["all"], "ncii", banked)
    queries = [banked[3], random_pdq(99), banked[7], random_pdq(98)]
    items = [
        {"signal_type": "pdq", "value": v, "content_id": f"c{i}"} for i, v in enumerate(queries)
    ]
    response = client.post("/v1/match", json={"items": items}, headers=bearer(keys["match"]))
    results = response.json()["results"]
    assert [r["content_id"] for r in results] == ["c0", "c1", "c2", "c3"]
    assert [r["verdict"] for r in results] == ["block", "allow", "block", "allow"]


def test_strictest_bank_wins_and_allowlist_overrides(
    client: TestClient, keys: dict[str, str]
) -> None:
    admin = keys["all"]
    make_bank(client, admin, "reviewed", "review")
    make_bank(client, admin, "blocked", "block")
    make_bank(client, admin, "known-fp", "allow")
    shared, false_positive = random_pdq(3), random_pdq(4)
    add(client, admin, "reviewed", [shared, false_positive])
    add(client, admin, "blocked", [shared, false_positive])
    add(client, admin, "known-fp", [false_positive])
    results = match(client, keys["match:details"], [shared, false_positive])
    assert results[0]["verdict"] == "block"
    assert {m["bank"] for m in results[0]["matches"]} == {"reviewed", "blocked"}
    assert results[1]["verdict"] == "allow"
    assert results[1]["reason"] == "allowlisted"


def test_disabled_banks_and_removed_hashes_never_match(
    client: TestClient, keys: dict[str, str]
) -> None:
    admin = keys["all"]
    make_bank(client, admin, "ncii", "block")
    first, second = random_pdq(5), random_pdq(6)
    add(client, admin, "ncii", [first, second])
    assert client.patch("/v1/banks/ncii", json={"enabled": False}, headers=bearer(admin)).is_success
    assert [r["verdict"] for r in match(client, keys["match"], [first])] == ["allow"]
    assert client.patch("/v1/banks/ncii", json={"enabled": True}, headers=bearer(admin)).is_success
    assert [r["verdict"] for r in match(client, keys["match"], [first])] == ["block"]
    removed = client.delete(f"/v1/banks/ncii/hashes/pdq/{first.upper()}", headers=bearer(admin))
    assert removed.status_code == 200
    assert removed.json()["status"] == "deleted"
    assert [r["verdict"] for r in match(client, keys["match"], [first, second])] == [
        "allow",
        "block",
    ]
    # Adding it back makes it match again on the very next request.
    assert add(client, admin, "ncii", [first])["reactivated"] == 1
    assert [r["verdict"] for r in match(client, keys["match"], [first])] == ["block"]


def test_low_quality_never_blocks(client: TestClient, keys: dict[str, str]) -> None:
    make_bank(client, keys["all"], "ncii", "block")
    stored, weak = random_pdq(7), random_pdq(8)
    add(client, keys["all"], "ncii", [stored])
    add(client, keys["all"], "ncii", [weak], quality=30)
    results = match(client, keys["match"], [stored], quality=40)
    assert results == [{"verdict": "review", "reason": "low_quality", "matches": []}]
    results = match(client, keys["match"], [weak])
    assert results[0]["verdict"] == "review"
    assert results[0]["reason"] == "low_quality"


def test_degenerate_query_never_matches(client: TestClient, keys: dict[str, str]) -> None:
    make_bank(client, keys["all"], "ncii", "block")
    add(client, keys["all"], "ncii", [random_pdq(9)])
    results = match(client, keys["match"], ["0" * 64, "f" * 64])
    assert [r["reason"] for r in results] == ["degenerate_hash", "degenerate_hash"]
    assert [r["verdict"] for r in results] == ["allow", "allow"]


def test_per_bank_thresholds(client: TestClient, keys: dict[str, str]) -> None:
    admin = keys["all"]
    make_bank(client, admin, "strict", "block", thresholds={"pdq": {"match": 10, "review": 20}})
    stored = random_pdq(10)
    add(client, admin, "strict", [stored])
    results = match(
        client, keys["match"], [flip_bits(stored, 10), flip_bits(stored, 15), flip_bits(stored, 21)]
    )
    assert [r["verdict"] for r in results] == ["block", "review", "allow"]


def test_exact_signal_types(client: TestClient, keys: dict[str, str]) -> None:
    make_bank(client, keys["all"], "videos", "block")
    md5 = "9e107d9d372bb6826bd81d3542a419d6"
    response = client.post(
        "/v1/banks/videos/hashes",
        json={"items": [{"signal_type": "md5", "value": md5}]},
        headers=bearer(keys["all"]),
    )
    assert response.json() == {"added": 1, "reactivated": 0, "updated": 0, "unchanged": 0}
    near = md5[:-1] + "7"
    response = client.post(
        "/v1/match",
        json={
            "items": [{"signal_type": "md5", "value": md5}, {"signal_type": "md5", "value": near}]
        },
        headers=bearer(keys["match"]),
    )
    assert [r["verdict"] for r in response.json()["results"]] == ["block", "allow"]


def test_media_match_returns_hashes_and_verdicts(client: TestClient, keys: dict[str, str]) -> None:
    make_bank(client, keys["all"], "ncii", "block")
    add(client, keys["all"], "ncii", [pdq_hex(1)])
    files = [
        ("file", ("a.png", photo(1, ".png"), "image/png")),  # same picture, other encoding
        ("file", ("b.jpg", photo(2), "image/jpeg")),
    ]
    response = client.post("/v1/match/media", files=files, headers=bearer(keys["match:details"]))
    assert response.status_code == 200, response.text
    first, second = response.json()["results"]
    assert first["filename"] == "a.png"
    assert first["verdict"] == "block"
    assert first["matches"][0]["distance"] <= 8
    assert {h["signal_type"] for h in first["hashes"]} == {"pdq", "phash", "md5", "sha256"}
    pdq = next(h for h in first["hashes"] if h["signal_type"] == "pdq")
    assert pdq["quality"] >= 50
    assert second["verdict"] == "allow"


def test_mirrored_and_framed_uploads_match_and_say_which_candidate(
    client: TestClient, keys: dict[str, str]
) -> None:
    import cv2
    import numpy as np

    from app.demo import sample_image
    from tests.factories import encode

    make_bank(client, keys["all"], "ncii", "block")
    add(client, keys["all"], "ncii", [pdq_hex(5)])
    original = sample_image(5)
    padded = cv2.copyMakeBorder(original, 60, 60, 0, 0, cv2.BORDER_CONSTANT, value=(0, 0, 0))
    files = [
        ("file", ("mirror.jpg", encode(np.ascontiguousarray(original[:, ::-1])), "image/jpeg")),
        ("file", ("boxed.jpg", encode(np.ascontiguousarray(padded[:, ::-1])), "image/jpeg")),
        ("file", ("same.jpg", encode(original), "image/jpeg")),
        ("file", ("other.jpg", photo(6), "image/jpeg")),
    ]
    response = client.post("/v1/match/media", files=files, headers=bearer(keys["match:details"]))
    assert response.status_code == 200, response.text
    mirror, boxed, same, other = response.json()["results"]
    assert (mirror["verdict"], mirror["candidate"]) == ("block", "mirrored")
    assert mirror["matches"][0]["variant"] == "mirrored"
    assert (boxed["verdict"], boxed["candidate"]) == ("block", "trimmed:mirrored")
    assert (same["verdict"], same["candidate"]) == ("block", "original")
    assert "variant" not in same["matches"][0]
    assert other["verdict"] == "allow" and "candidate" not in other
    # Only the file's own hashes are listed, not every candidate.
    assert len(mirror["hashes"]) == 4
    # A key without details learns the verdict and which candidate, never the case.
    response = client.post("/v1/match/media", files=files[:1], headers=bearer(keys["match"]))
    assert response.json()["results"][0]["matches"] == []


def test_a_close_orientation_gets_a_second_look(client: TestClient, keys: dict[str, str]) -> None:
    import numpy as np

    from app.demo import sample_image
    from tests.factories import encode

    # A tight bank: the derived mirror candidate (about 15 bits off) only comes close;
    # hashed again on the turned-back picture it is within 6 bits.
    thresholds = {"pdq": {"match": 6, "review": 47}}
    make_bank(client, keys["all"], "tight", "block", thresholds=thresholds)
    add(client, keys["all"], "tight", [pdq_hex(8)])
    mirrored = encode(np.ascontiguousarray(sample_image(8)[:, ::-1]), ".png")
    response = client.post(
        "/v1/match/media",
        files=[("file", ("m.png", mirrored, "image/png"))],
        headers=bearer(keys["match:details"]),
    )
    result = response.json()["results"][0]
    assert (result["verdict"], result["candidate"]) == ("block", "mirrored")
    assert result["matches"][0]["distance"] <= 6


def test_bank_media_ingest_then_exact_reupload_matches(
    client: TestClient, keys: dict[str, str]
) -> None:
    make_bank(client, keys["all"], "confirmed", "block")
    image = photo(3)
    response = client.post(
        "/v1/banks/confirmed/media",
        files=[("file", ("x.jpg", image, "image/jpeg"))],
        data={"external_id": "ticket-9"},
        headers=bearer(keys["banks:write"]),
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["added"] == 4
    bank = client.get("/v1/banks/confirmed", headers=bearer(keys["banks:read"])).json()
    assert bank["hash_count"] == 4
    response = client.post(
        "/v1/match/media",
        files=[("file", ("y.jpg", image, "image/jpeg"))],
        headers=bearer(keys["match:details"]),
    )
    result = response.json()["results"][0]
    assert result["verdict"] == "block"
    assert {m["signal_type"] for m in result["matches"]} == {"pdq", "phash", "md5", "sha256"}
    assert {m["external_id"] for m in result["matches"]} == {"ticket-9"}


def test_verdicts_are_logged_without_media(client: TestClient, keys: dict[str, str]) -> None:
    make_bank(client, keys["all"], "ncii", "block")
    stored = random_pdq(11)
    add(client, keys["all"], "ncii", [stored])
    match(client, keys["match"], [stored], content_id="upload-42")
    state = client.app.state.hashwall  # type: ignore[attr-defined]
    state.recorder.flush()
    from app.store.verdicts import recent

    with state.sessions() as session:
        entries = recent(session)
    entry = next(e for e in entries if e.content_id == "upload-42")
    assert entry.key_name == "key-match"
    assert entry.verdict == "block"
    assert entry.reason == "matched"
    assert entry.signal_types == ["pdq"]
    assert entry.matches[0]["distance"] == 0
    assert entry.policy_version
