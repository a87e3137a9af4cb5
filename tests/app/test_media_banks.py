"""Banks filled from media, through HTTP on SQLite and PostgreSQL: an image banked from
media is stored with its parts, so crops and small rotations of it match; a feed's hash
of the same picture does not, and removing the image removes its parts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2
import numpy as np
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from app import snapshots
from app.db import make_session_factory
from app.demo import sample_image
from app.live_index import LiveIndex
from matcher.pdq import pdq_from_rgb
from matcher.signals import default_registry
from tests.app.test_match_api import add, make_bank
from tests.conftest import bearer
from tests.factories import encode

ORIGINAL = sample_image(21, (600, 800))
HEIGHT, WIDTH = ORIGINAL.shape[:2]
#: 11% of each side cut, off centre; and a 4 degree rotation.
CROPPED = ORIGINAL[HEIGHT * 2 // 100 : HEIGHT * 91 // 100, WIDTH * 8 // 100 : WIDTH * 97 // 100]
ROTATED = cv2.warpAffine(
    ORIGINAL, cv2.getRotationMatrix2D((WIDTH / 2, HEIGHT / 2), -4.0, 1.0), (WIDTH, HEIGHT)
)


def upload(client: TestClient, key: str, url: str, *pictures: np.ndarray) -> Any:
    response = client.post(
        url,
        files=[("file", (f"{n}.jpg", encode(p), "image/jpeg")) for n, p in enumerate(pictures)],
        headers=bearer(key),
    )
    assert response.status_code == 200, response.text
    return response.json()


def verdicts(client: TestClient, key: str, *pictures: np.ndarray) -> list[dict[str, Any]]:
    return upload(client, key, "/v1/match/media", *pictures)["results"]  # type: ignore[no-any-return]


def test_crops_and_rotations_of_an_image_banked_from_media_match(
    client: TestClient, keys: dict[str, str]
) -> None:
    make_bank(client, keys["all"], "own", "block")
    body = upload(client, keys["banks:write"], "/v1/banks/own/media", ORIGINAL)
    pdq = next(h for h in body["files"][0]["hashes"] if h["signal_type"] == "pdq")
    assert pdq["parts"] > 100
    assert all(h["parts"] is None for h in body["files"][0]["hashes"] if h is not pdq)
    bank = client.get("/v1/banks/own", headers=bearer(keys["all"])).json()
    assert bank["hash_count"] == 4  # parts are not hashes of their own

    cropped, rotated, other = verdicts(
        client, keys["match:details"], CROPPED, ROTATED, sample_image(22, (600, 800))
    )
    assert cropped["verdict"] == "block", cropped
    assert cropped["matches"][0]["part"].startswith("crop")
    assert cropped["matches"][0]["distance"] <= 31
    assert rotated["verdict"] == "block" and rotated["matches"][0]["part"] == "rotated:-4"
    assert other["verdict"] == "allow"
    # A `match` key learns the verdict only.
    (plain,) = verdicts(client, keys["match"], CROPPED)
    assert plain["verdict"] == "block" and plain["matches"] == []

    # Removed: its parts stop matching with it. Banked again by its hash: they are back.
    removed = client.delete(f"/v1/banks/own/hashes/pdq/{pdq['value']}", headers=bearer(keys["all"]))
    assert removed.status_code == 200
    cropped, rotated = verdicts(client, keys["match:details"], CROPPED, ROTATED)
    assert cropped["verdict"] == "allow"
    # (the bank's phash of the picture still asks for review of the rotated copy)
    assert [m["signal_type"] for m in rotated["matches"]] == ["phash"]
    assert add(client, keys["banks:write"], "own", [pdq["value"]])["reactivated"] == 1
    assert verdicts(client, keys["match"], CROPPED)[0]["verdict"] == "block"


def test_a_feed_hash_alone_does_not_match_crops(client: TestClient, keys: dict[str, str]) -> None:
    make_bank(client, keys["all"], "feed", "block")
    hashes = upload(client, keys["match"], "/v1/match/media", ORIGINAL)["results"][0]["hashes"]
    value = next(h["value"] for h in hashes if h["signal_type"] == "pdq")
    add(client, keys["banks:write"], "feed", [value])
    original, cropped = verdicts(client, keys["match"], ORIGINAL, CROPPED)
    assert original["verdict"] == "block" and cropped["verdict"] == "allow"
    # The same picture banked from media afterwards gains its parts.
    body = upload(client, keys["banks:write"], "/v1/banks/feed/media", ORIGINAL)
    assert body["updated"] == 1
    assert verdicts(client, keys["match"], CROPPED)[0]["verdict"] == "block"


def test_a_feed_hash_matches_a_slight_crop_padded_back_out(
    client: TestClient, keys: dict[str, str]
) -> None:
    """5% of each side cut: the upload's `uncropped` candidates pad it back out to the
    original's size, which brings it within the match distance of the feed's hash."""
    make_bank(client, keys["all"], "feed", "block")
    hashes = upload(client, keys["match"], "/v1/match/media", ORIGINAL)["results"][0]["hashes"]
    add(
        client,
        keys["banks:write"],
        "feed",
        [h["value"] for h in hashes if h["signal_type"] == "pdq"],
    )
    cut = HEIGHT * 5 // 100, WIDTH * 5 // 100
    for slight in (
        ORIGINAL[cut[0] :, cut[1] :],
        ORIGINAL[: HEIGHT - cut[0], cut[1] // 2 : WIDTH - cut[1] // 2],
    ):
        (result,) = verdicts(client, keys["match:details"], np.ascontiguousarray(slight))
        assert result["verdict"] == "block", result
        assert (
            result["candidate"].startswith("uncropped") and result["matches"][0]["distance"] <= 31
        )


def test_parts_load_from_the_database_and_from_a_snapshot(
    client: TestClient, keys: dict[str, str], engine: Engine, tmp_path: Path
) -> None:
    make_bank(client, keys["all"], "own", "block")
    upload(client, keys["banks:write"], "/v1/banks/own/media", ORIGINAL)
    query = [pdq_from_rgb(CROPPED)[0]]

    def found(live: LiveIndex) -> list[str | None]:
        (candidates,) = live.search("pdq", query, 47, parts_radius=31)
        return [c.part for c in candidates]

    # A process starting on the database, then one starting from its snapshot.
    fresh = LiveIndex(default_registry())
    with make_session_factory(engine)() as session:
        fresh.load(session)
    assert found(fresh) and all(p is not None and p.startswith("crop") for p in found(fresh))
    snapshots.write(fresh, tmp_path, seq=1, backend="mih")
    restarted = LiveIndex(default_registry())
    assert snapshots.load_newest(restarted, tmp_path, "mih", restarted.loaders()) == 1
    assert found(restarted) == found(fresh)
    restarted.remove("pdq", [c.hash_id for c in restarted.search("pdq", query, 47, 31)[0]])
    assert found(restarted) == []


def test_a_flat_drawing_is_banked_without_parts_and_matches_by_its_own_hash_only(
    client: TestClient, keys: dict[str, str]
) -> None:
    drawing = np.zeros((400, 500, 3), np.uint8)
    cv2.circle(drawing, (150, 180), 120, (250, 250, 250), -1)
    cv2.rectangle(drawing, (300, 60), (470, 330), (40, 90, 200), -1)
    make_bank(client, keys["all"], "own", "block")
    body = upload(client, keys["banks:write"], "/v1/banks/own/media", drawing)
    pdq = next(h for h in body["files"][0]["hashes"] if h["signal_type"] == "pdq")
    assert pdq["quality"] >= 50 and not pdq["parts"]
    same, mirrored = verdicts(
        client, keys["match:details"], drawing, np.ascontiguousarray(drawing[:, ::-1])
    )
    assert same["verdict"] == "block"
    # A photo's mirror would match by its mirrored candidate; a flat drawing has none.
    assert mirrored["verdict"] == "allow"
