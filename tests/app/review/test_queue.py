"""The review queue through HTTP, on SQLite and PostgreSQL: items from verdicts, claims,
decisions and what they set off."""

from __future__ import annotations

import time

from fastapi.testclient import TestClient

from app.models import utcnow
from tests.app.conftest import Moderation
from tests.conftest import bearer
from tests.factories import flip_bits, photo, random_pdq


def test_review_verdicts_become_items_and_merge(moderation: Moderation) -> None:
    stored = random_pdq(1)
    moderation.bank("ncii")
    moderation.add("ncii", [stored])
    near = flip_bits(stored, 40)
    for _ in range(3):
        result = moderation.match(near, "upload-7")
        # A match key learns the verdict only, never case details.
        assert result == {
            "verdict": "review",
            "reason": "near_match",
            "content_id": "upload-7",
            "matches": [],
        }
    moderation.match(near, None)  # no content id: nothing to queue
    moderation.match(random_pdq(99), "upload-8")  # no match: nothing to queue
    assert moderation.items() == []  # written off the request path
    moderation.flush()
    (item,) = moderation.items()
    assert item["content_id"] == "upload-7"
    assert item["status"] == "open"
    assert item["sightings"] == 3
    assert item["reason"] == "near_match"
    assert item["requested_by"] == "key-match"
    assert item["upload_hashes"] == 1
    (match,) = item["matches"]
    assert match["bank"] == "ncii" and match["distance"] == 40
    assert match["context"]["matches_24h"] == 4  # across all content, named or not
    assert match["context"]["source"] == "api"
    assert item["first_seen"] <= item["last_seen"]
    # A later sighting merges into the same open item.
    moderation.match(near, "upload-7")
    moderation.flush()
    (again,) = moderation.items()
    assert again["id"] == item["id"] and again["sightings"] == 4
    # A sighting with a new match (another upload hash, another banked hash) adds both.
    other = random_pdq(2)
    moderation.add("ncii", [other])
    moderation.match(flip_bits(other, 38), "upload-7")
    moderation.flush()
    (merged,) = moderation.items()
    assert merged["sightings"] == 5 and merged["upload_hashes"] == 2
    assert sorted(m["distance"] for m in merged["matches"]) == [38, 40]


def test_blocks_queue_only_where_the_bank_says(moderation: Moderation) -> None:
    quiet, loud = random_pdq(1), random_pdq(2)
    moderation.bank("plain")
    moderation.bank("posthoc", queue_blocks=True)
    moderation.add("plain", [quiet])
    moderation.add("posthoc", [loud])
    assert moderation.match(quiet, "a")["verdict"] == "block"
    assert moderation.match(loud, "b")["verdict"] == "block"
    moderation.flush()
    assert [(i["content_id"], i["verdict"]) for i in moderation.items()] == [("b", "block")]


def test_scopes(moderation: Moderation) -> None:
    item = moderation.review_item()
    client = moderation.client
    for key in ("match", "match:details", "banks:write"):
        assert client.get("/v1/reviews", headers=bearer(moderation.keys[key])).status_code == 403
    assert client.get("/v1/reviews", headers=bearer(moderation.keys["review"])).status_code == 200
    claim = client.post(f"/v1/reviews/{item['id']}/claim", headers=bearer(moderation.keys["match"]))
    assert claim.status_code == 403
    assert claim.headers["content-type"] == "application/problem+json"


def test_claims_are_exclusive_and_expire(moderation: Moderation, client: TestClient) -> None:
    item = moderation.review_item()
    first, second = bearer(moderation.keys["review"]), bearer(moderation.keys["review:escalated"])
    claimed = client.post(f"/v1/reviews/{item['id']}/claim", headers=first)
    assert claimed.status_code == 200
    assert claimed.json()["lease_until"] > utcnow().isoformat()
    taken = client.post(f"/v1/reviews/{item['id']}/claim", headers=second)
    assert taken.status_code == 409
    assert "key-review" in taken.json()["detail"]
    assert client.post(f"/v1/reviews/{item['id']}/claim", headers=first).status_code == 200
    assert [i["id"] for i in moderation.items(status="claimed")] == [item["id"]]
    assert moderation.items(status="open") == []
    # Deciding needs the claim.
    decided = client.post(
        f"/v1/reviews/{item['id']}/decision", json={"decision": "dismiss"}, headers=second
    )
    assert decided.status_code == 409
    assert client.post(f"/v1/reviews/{item['id']}/release", headers=first).status_code == 200
    assert [i["id"] for i in moderation.items(status="open")] == [item["id"]]
    # An expired lease frees the item.
    client.app.state.hashwall.settings.review_lease_seconds = 1  # type: ignore[attr-defined]
    assert client.post(f"/v1/reviews/{item['id']}/claim", headers=first).status_code == 200
    time.sleep(1.2)
    assert client.post(f"/v1/reviews/{item['id']}/claim", headers=second).status_code == 200


def test_confirm_banks_the_upload_and_blocks_it(moderation: Moderation, client: TestClient) -> None:
    item = moderation.review_item()
    moderation.bank("confirmed-ncii")
    reviewer = bearer(moderation.keys["review"])
    assert client.post(f"/v1/reviews/{item['id']}/claim", headers=reviewer).status_code == 200
    decided = client.post(
        f"/v1/reviews/{item['id']}/decision",
        json={"decision": "confirm", "note": "NCII, case 12", "add_to_bank": "confirmed-ncii"},
        headers=reviewer,
    )
    assert decided.status_code == 200, decided.text
    body = decided.json()
    assert body["status"] == "decided"
    assert body["decision"]["decision"] == "confirm"
    assert body["decision"]["verdict"] == "block"
    assert body["decision"]["by"] == "key-review"
    assert body["decision"]["note"] == "NCII, case 12"
    assert body["decision"]["added"] == 1
    assert body["upload_hashes"] == 0  # dropped once decided
    # The upload's own hash now blocks, at once.
    near = flip_bits(random_pdq(1), 40)
    assert moderation.match(near, "upload-2")["verdict"] == "block"
    again = client.post(
        f"/v1/reviews/{item['id']}/decision", json={"decision": "dismiss"}, headers=reviewer
    )
    assert again.status_code == 409
    assert [i["id"] for i in moderation.items(status="decided")] == [item["id"]]


def test_dismiss_to_an_allow_bank(moderation: Moderation, client: TestClient) -> None:
    item = moderation.review_item()
    moderation.bank("known-good", action="allow")
    admin = moderation.admin
    wrong = client.post(
        f"/v1/reviews/{item['id']}/decision",
        json={"decision": "dismiss", "add_to_bank": "ncii"},
        headers=admin,
    )
    assert wrong.status_code == 422
    assert wrong.json()["errors"][0]["pointer"] == "/add_to_bank"
    # admin decides unclaimed items
    decided = client.post(
        f"/v1/reviews/{item['id']}/decision",
        json={"decision": "dismiss", "add_to_bank": "known-good"},
        headers=admin,
    )
    assert decided.status_code == 200, decided.text
    assert decided.json()["decision"]["verdict"] == "allow"
    near = flip_bits(random_pdq(1), 40)
    assert moderation.match(near, "upload-3")["reason"] == "allowlisted"


def test_escalation_needs_the_second_tier(moderation: Moderation, client: TestClient) -> None:
    item = moderation.review_item()
    tier1, tier2 = bearer(moderation.keys["review"]), bearer(moderation.keys["review:escalated"])
    client.post(f"/v1/reviews/{item['id']}/claim", headers=tier1)
    escalated = client.post(
        f"/v1/reviews/{item['id']}/decision",
        json={"decision": "escalate", "note": "unsure"},
        headers=tier1,
    )
    assert escalated.status_code == 200
    assert escalated.json()["status"] == "escalated"
    assert escalated.json()["claimed_by"] is None
    assert client.post(f"/v1/reviews/{item['id']}/claim", headers=tier1).status_code == 403
    assert [i["id"] for i in moderation.items(status="escalated")] == [item["id"]]
    assert client.post(f"/v1/reviews/{item['id']}/claim", headers=tier2).status_code == 200
    final = client.post(
        f"/v1/reviews/{item['id']}/decision", json={"decision": "confirm"}, headers=tier2
    )
    assert final.status_code == 200
    history = [d["decision"] for d in final.json()["history"]]
    assert history == ["escalate", "confirm"]


def test_bad_requests_are_problems(moderation: Moderation, client: TestClient) -> None:
    item = moderation.review_item()
    admin = moderation.admin
    cases = [
        client.get("/v1/reviews?status=pending", headers=admin),
        client.get("/v1/reviews?cursor=abc", headers=admin),
        client.post(f"/v1/reviews/{item['id']}/decision", json={"decision": "x"}, headers=admin),
        client.post(f"/v1/reviews/{item['id']}/decision", json={}, headers=admin),
        client.post("/v1/reviews/999999/claim", headers=admin),
        client.post(
            f"/v1/reviews/{item['id']}/decision",
            json={"decision": "confirm", "add_to_bank": "nope"},
            headers=admin,
        ),
    ]
    assert [c.status_code for c in cases] == [422, 422, 422, 422, 404, 404]
    assert all(c.headers["content-type"] == "application/problem+json" for c in cases)


def test_cursor_pages_through_the_queue(moderation: Moderation, client: TestClient) -> None:
    stored = random_pdq(1)
    moderation.bank("ncii")
    moderation.add("ncii", [stored])
    for n in range(5):
        moderation.match(flip_bits(stored, 40), f"c-{n}")
    moderation.flush()
    seen, cursor = [], None
    while True:
        params = {"limit": "2", **({"cursor": cursor} if cursor else {})}
        page = client.get("/v1/reviews", params=params, headers=moderation.admin).json()
        seen += [i["content_id"] for i in page["items"]]
        cursor = page["next"]
        if cursor is None:
            break
    assert seen == [f"c-{n}" for n in range(5)]


def test_media_uploads_queue_by_content_id(
    moderation: Moderation, client: TestClient, keys: dict[str, str]
) -> None:
    moderation.bank("ncii", action="review")
    banked = client.post(
        "/v1/banks/ncii/media", files=[("file", ("a.jpg", photo(3)))], headers=moderation.admin
    )
    assert banked.status_code == 200
    files = [("file", ("a.jpg", photo(3))), ("file", ("b.jpg", photo(4)))]
    mismatched = client.post(
        "/v1/match/media",
        files=files,
        data={"content_id": "only-one"},
        headers=bearer(keys["match"]),
    )
    assert mismatched.status_code == 422
    matched = client.post(
        "/v1/match/media",
        files=files,
        data={"content_id": ["m-1", "m-2"]},
        headers=bearer(keys["match"]),
    )
    assert matched.status_code == 200
    assert [r["verdict"] for r in matched.json()["results"]] == ["review", "allow"]
    moderation.flush()
    (item,) = moderation.items()
    assert item["content_id"] == "m-1"
    assert item["upload_hashes"] >= 3  # pdq, phash, md5, sha256 of the upload itself


def test_content_link_from_the_template(moderation: Moderation, client: TestClient) -> None:
    client.app.state.hashwall.settings.content_url_template = (  # type: ignore[attr-defined]
        "https://mod.example/content/{content_id}"
    )
    item = moderation.review_item(content_id="a b/c")
    assert item["content_url"] == "https://mod.example/content/a%20b%2Fc"
