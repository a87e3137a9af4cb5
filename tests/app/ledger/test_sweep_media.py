"""Media uploads swept later: a video by its share of frames, a mirrored picture through
the candidate hashwall computed for it (which counts within the match distance only)."""

from __future__ import annotations

import cv2
import numpy as np
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from app.db import make_session_factory
from app.models import SweepHit
from app.worker.run import Worker
from tests.app.conftest import Moderation
from tests.app.ledger.test_sweep import sweep_all
from tests.conftest import bearer
from tests.factories import photo, video

BANKED = video([1, 2, 3, 4])
CLIP = video([2, 3], size=(180, 240))
OTHER = video([7, 8, 9])


def upload(client: TestClient, key: str, url: str, files: dict[str, bytes], **data: str) -> None:
    response = client.post(
        url,
        files=[("file", (name, body, "application/octet-stream")) for name, body in files.items()],
        data={"content_id": list(data.values())} if data else None,
        headers=bearer(key),
    )
    assert response.status_code == 200, response.text


def found(engine: Engine) -> dict[str, tuple[str, str, str]]:
    with make_session_factory(engine)() as session:
        rows = session.execute(
            select(SweepHit.content_id, SweepHit.signal_type, SweepHit.candidate, SweepHit.verdict)
        )
        return {c: (s, k, v) for c, s, k, v in rows}


def test_a_video_clip_uploaded_before_its_video_was_banked_is_found(
    hub: Moderation, worker: Worker, engine: Engine, keys: dict[str, str]
) -> None:
    hub.bank("videos")
    sweep_all(worker)
    upload(hub.client, keys["match"], "/v1/match/media", {"clip.mp4": CLIP}, a="clip-1")
    upload(hub.client, keys["match"], "/v1/match/media", {"other.mp4": OTHER}, a="other-1")
    hub.flush()
    upload(hub.client, keys["banks:write"], "/v1/banks/videos/media", {"v.mp4": BANKED})
    sweep_all(worker)
    assert set(found(engine)) == {"clip-1"}
    assert found(engine)["clip-1"][0] == "vpdq"


def test_a_mirrored_picture_is_found_through_its_candidate(
    hub: Moderation, worker: Worker, engine: Engine, keys: dict[str, str]
) -> None:
    original = photo(12)
    picture = cv2.imdecode(np.frombuffer(original, np.uint8), cv2.IMREAD_COLOR)
    ok, mirrored = cv2.imencode(".jpg", np.ascontiguousarray(picture[:, ::-1]))
    assert ok
    hub.bank("ncii")
    sweep_all(worker)
    upload(hub.client, keys["match"], "/v1/match/media", {"m.jpg": mirrored.tobytes()}, a="m-1")
    upload(hub.client, keys["match"], "/v1/match/media", {"o.jpg": photo(13)}, a="other-1")
    hub.flush()
    upload(hub.client, keys["banks:write"], "/v1/banks/ncii/media", {"p.jpg": original})
    sweep_all(worker)
    hits = found(engine)
    assert set(hits) == {"m-1"}
    signal_type, candidate, verdict = hits["m-1"]
    assert signal_type == "pdq" and candidate != "original" and verdict == "block"
