"""Videos through HTTP, on SQLite and PostgreSQL: banked from media or from vpdq text,
matched as uploads (clips, mirrored and letterboxed copies) and as submitted vpdq hashes."""

from __future__ import annotations

from typing import Any

import numpy as np
from fastapi.testclient import TestClient

from matcher.limits import Limits
from matcher.video import hash_video
from matcher.vpdq import VPDQ, format_video
from tests.app.test_match_api import make_bank
from tests.conftest import bearer
from tests.factories import video

#: Four scenes of three seconds; the clip is the middle two, smaller and re-encoded.
BANKED = video([1, 2, 3, 4])
CLIP = video([2, 3], size=(180, 240))
MIRRORED = video([1, 2, 3, 4], transform=np.fliplr)
LETTERBOXED = video([1, 2, 3, 4], transform=lambda f: np.pad(f, ((48, 48), (0, 0), (0, 0))))
OTHER = video([7, 8, 9])


def upload(client: TestClient, key: str, url: str, *files: tuple[str, bytes]) -> Any:
    response = client.post(
        url,
        files=[("file", (name, data, "video/mp4")) for name, data in files],
        headers=bearer(key),
    )
    assert response.status_code == 200, response.text
    return response.json()


def vpdq_item(data: bytes, **extra: object) -> dict[str, object]:
    return {"signal_type": "vpdq", "value": format_video(hash_video(data, Limits())), **extra}


def test_a_banked_video_is_found_in_clips_mirrored_and_letterboxed_copies(
    client: TestClient, keys: dict[str, str]
) -> None:
    make_bank(client, keys["all"], "videos", "block")
    body = upload(client, keys["banks:write"], "/v1/banks/videos/media", ("v.mp4", BANKED))
    assert body["added"] == 3  # md5, sha256 and vpdq
    assert [h["signal_type"] for h in body["files"][0]["hashes"]] == ["md5", "sha256", "vpdq"]
    bank = client.get("/v1/banks/videos", headers=bearer(keys["all"])).json()
    assert bank["hash_count"] == 3
    assert bank["thresholds"]["vpdq"]["query_share"] == 50.0

    results = upload(
        client,
        keys["match:details"],
        "/v1/match/media",
        ("same.mp4", BANKED),
        ("clip.mp4", CLIP),
        ("mirrored.mp4", MIRRORED),
        ("letterboxed.mp4", LETTERBOXED),
        ("other.mp4", OTHER),
    )["results"]
    assert [r["verdict"] for r in results] == ["block", "block", "block", "block", "allow"]
    same, clip, mirrored, letterboxed, other = results
    # The very file: its digests match too.
    assert {m["signal_type"] for m in same["matches"]} == {"md5", "sha256", "vpdq"}
    found = next(m for m in same["matches"] if m["signal_type"] == "vpdq")
    assert found["video"]["query_share"] == 100.0 and found["video"]["target_share"] == 100.0
    assert clip["candidate"] == "original"
    detail = clip["matches"][0]
    assert detail["signal_type"] == "vpdq" and detail["distance"] <= 31
    assert detail["video"]["query_share"] == 100.0
    assert detail["video"]["target_share"] == 50.0
    assert detail["video"]["query_ranges"] == [[0.0, 5.0]]
    assert detail["video"]["target_ranges"] == [[3.0, 8.0]]
    assert mirrored["candidate"] == "mirrored"
    assert letterboxed["candidate"] == "trimmed:original"
    assert other["reason"] == "no_match" and other["matches"] == []
    assert [h["signal_type"] for h in other["hashes"]] == ["md5", "sha256", "vpdq"]


def test_vpdq_text_banks_a_video_and_matches_submitted_hashes(
    client: TestClient, keys: dict[str, str]
) -> None:
    admin = bearer(keys["all"])
    make_bank(client, keys["all"], "videos", "block")
    added = client.post(
        "/v1/banks/videos/hashes",
        json={"items": [vpdq_item(BANKED, external_id="case-v1")]},
        headers=admin,
    )
    assert added.status_code == 200, added.text
    assert added.json()["added"] == 1
    again = client.post(
        "/v1/banks/videos/hashes", json={"items": [vpdq_item(BANKED)]}, headers=admin
    )
    assert again.json()["unchanged"] == 1

    items = [vpdq_item(CLIP, content_id="clip"), vpdq_item(OTHER, content_id="other")]
    response = client.post("/v1/match", json={"items": items}, headers=bearer(keys["match"]))
    assert response.status_code == 200, response.text
    clip, other = response.json()["results"]
    assert (clip["verdict"], clip["reason"], clip["matches"]) == ("block", "matched", [])
    assert other["verdict"] == "allow"

    # Removed by its identity, the video stops matching at once.
    identity = client.get("/v1/banks/videos", headers=admin).json()
    assert identity["hash_count"] == 1
    detailed = client.post("/v1/match", json={"items": items[:1]}, headers=admin).json()
    hash_id = detailed["results"][0]["matches"][0]["hash_id"]
    assert detailed["results"][0]["matches"][0]["external_id"] == "case-v1"
    value = VPDQ().format(VPDQ().parse(format_video(hash_video(BANKED, Limits()))))
    removed = client.delete(f"/v1/banks/videos/hashes/vpdq/{value}", headers=admin)
    assert removed.status_code == 200, removed.text
    assert removed.json()["id"] == hash_id
    after = client.post("/v1/match", json={"items": items[:1]}, headers=admin).json()
    assert after["results"][0]["verdict"] == "allow"


def test_video_shares_are_per_bank(client: TestClient, keys: dict[str, str]) -> None:
    admin = bearer(keys["all"])
    # A bank that wants most of the banked video before it acts: the clip (half of it,
    # all of the clip) still matches by its query share unless that is raised too.
    strict = {"vpdq": {"match": 31, "review": 31, "query_share": 100, "target_share": 90}}
    make_bank(client, keys["all"], "strict", "block", thresholds=strict)
    client.post("/v1/banks/strict/hashes", json={"items": [vpdq_item(BANKED)]}, headers=admin)
    shown = client.get("/v1/banks/strict", headers=admin).json()["thresholds"]["vpdq"]
    assert shown == {"match": 31, "review": 31, "query_share": 100.0, "target_share": 90.0}
    partial = video([2, 3, 7, 8], size=(180, 240))  # half banked, half not
    items = [vpdq_item(CLIP), vpdq_item(partial)]
    results = client.post("/v1/match", json={"items": items}, headers=admin).json()["results"]
    assert [r["verdict"] for r in results] == ["block", "allow"]


def test_bad_video_input_gets_problems(client: TestClient, keys: dict[str, str]) -> None:
    admin = bearer(keys["all"])
    make_bank(client, keys["all"], "videos", "block")
    truncated = client.post(
        "/v1/match/media",
        files=[("file", ("cut.mp4", BANKED[: len(BANKED) // 2], "video/mp4"))],
        headers=admin,
    )
    assert truncated.status_code == 422
    assert truncated.headers["content-type"] == "application/problem+json"
    assert "cut.mp4" in truncated.json()["detail"] and "truncated" in truncated.json()["detail"]
    frameless = client.post(
        "/v1/banks/videos/hashes",
        json={"items": [{"signal_type": "vpdq", "value": "ab" * 32}]},
        headers=admin,
    )
    assert frameless.status_code == 422 and "without frames" in frameless.json()["detail"]
    broken = client.post(
        "/v1/match",
        json={"items": [{"signal_type": "vpdq", "value": "0,100,xyz,0.0"}]},
        headers=admin,
    )
    assert broken.status_code == 422 and "/items/0" in broken.json()["detail"]
    shares = client.post(
        "/v1/banks",
        json={
            "name": "b",
            "action": "block",
            "thresholds": {"pdq": {"match": 1, "review": 2, "query_share": 5}},
        },
        headers=admin,
    )
    assert shares.status_code == 422 and "query_share" in shares.json()["detail"]
