"""Media is hashed in memory and discarded: nothing of it reaches the disk or the database."""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, MetaData, select

from app.demo import sample_image
from tests.conftest import bearer
from tests.factories import encode


def files_under(path: Path) -> set[Path]:
    return {p for p in path.rglob("*") if p.is_file()}


def test_no_media_left_on_disk_or_in_database(
    client: TestClient,
    keys: dict[str, str],
    engine: Engine,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    spool = tmp_path / "spool"
    spool.mkdir()
    # Any temporary file (Starlette spools uploads over 1 MB to one) would land here.
    monkeypatch.setattr(tempfile, "tempdir", str(spool))
    admin = bearer(keys["all"])
    client.post(
        "/v1/banks", json={"name": "ncii", "action": "block", "queue_blocks": True}, headers=admin
    )
    big = encode(sample_image(5, (1600, 2000)), ".png")
    assert len(big) > 2 * 1024 * 1024
    before = files_under(tmp_path)

    response = client.post(
        "/v1/match/media", files=[("file", ("big.png", big, "image/png"))], headers=admin
    )
    assert response.status_code == 200
    response = client.post(
        "/v1/banks/ncii/media", files=[("file", ("big.png", big, "image/png"))], headers=admin
    )
    assert response.status_code == 200
    # A blocked upload with a content id opens a review item (the bank queues blocks),
    # which keeps the upload's hashes, never its bytes.
    response = client.post(
        "/v1/match/media",
        files=[("file", ("big.png", big, "image/png"))],
        data={"content_id": "post-1"},
        headers=admin,
    )
    assert response.json()["results"][0]["verdict"] == "block"
    # The UI's lookup hashes a dropped file the same way.
    login = client.post("/ui/login", data={"key": keys["all"]}, follow_redirects=False)
    assert login.status_code == 303
    csrf = re.search(r'name="csrf" value="([^"]+)"', client.get("/ui/lookup").text)
    assert csrf is not None
    looked_up = client.post(
        "/ui/lookup/media",
        files=[("file", ("big.png", big, "image/png"))],
        data={"csrf": csrf.group(1)},
    )
    assert looked_up.status_code == 200 and "block" in looked_up.text
    forged = client.post("/ui/lookup/media", files=[("file", ("big.png", big, "image/png"))])
    assert forged.status_code == 403
    client.app.state.hashwall.recorder.flush()  # type: ignore[attr-defined]
    assert client.get("/v1/reviews", headers=admin).json()["items"][0]["content_id"] == "post-1"

    assert files_under(spool) == set()
    new_files = files_under(tmp_path) - before
    # Only SQLite's own journal files may appear, and they hold no image bytes.
    assert all(p.name.startswith("hashwall.db") for p in new_files), new_files
    probes = [big[i : i + 48] for i in range(1000, len(big), len(big) // 8)]
    for path in files_under(tmp_path) - files_under(spool):
        content = path.read_bytes()
        assert not any(probe in content for probe in probes), path

    # Every stored value in every table is short text: hashes, names, ids. No media.
    metadata = MetaData()
    metadata.reflect(engine)
    with engine.connect() as connection:
        for table in metadata.sorted_tables:
            for row in connection.execute(select(table)):
                for value in row:
                    if isinstance(value, bytes | str):
                        assert len(value) < 1000, (table.name, len(value))
