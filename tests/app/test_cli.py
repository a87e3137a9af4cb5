"""The hashwall command, run with click's runner against the same databases as the API."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner
from fastapi.testclient import TestClient

from app.cli import main
from app.config import Settings
from app.main import create_app
from tests.conftest import bearer
from tests.factories import photo, random_pdq, video


def test_keys_create_list_revoke(run, database_url: str) -> None:  # type: ignore[no-untyped-def]
    created = json.loads(run("keys", "create", "--name", "pipeline", "--scopes", "match", "--json"))
    key = created["key"]
    assert key.startswith("hw_")
    listed = json.loads(run("keys", "list", "--json"))
    assert listed[0]["name"] == "pipeline"
    assert key not in json.dumps(listed)
    # A server keeps an accepted key for a second (test_bad_input.py covers that); this
    # one checks every request, so the revocation shows on the next.
    settings = Settings(database_url=database_url, key_cache_seconds=0)
    item = {"items": [{"signal_type": "pdq", "value": random_pdq(1)}]}
    with TestClient(create_app(settings)) as client:
        assert client.post("/v1/match", json=item, headers=bearer(key)).status_code == 200
        run("keys", "revoke", "pipeline")
        assert client.post("/v1/match", json=item, headers=bearer(key)).status_code == 401
    assert "unknown scopes" in run("keys", "create", "--name", "x", "--scopes", "root", code=1)
    assert "already exists" in run(
        "keys", "create", "--name", "pipeline", "--scopes", "match", code=1
    )


def test_banks_and_import_with_rejects(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    run("banks", "create", "ncii", "--action", "block")
    good = [random_pdq(i) for i in range(3)]
    csv_file = tmp_path / "hashes.csv"
    csv_file.write_text(
        "signal_type,value,external_id\n"
        f"pdq,{good[0]},case-1\n"
        "pdq,nothex,case-2\n"
        f"pdq,{good[1]},case-3\n"
        f"bogus,{good[2]},case-4\n"
        f"pdq,{'0' * 64},case-5\n"
    )
    output = run("hashes", "import", str(csv_file), "--bank", "ncii", code=3)
    assert "hashes.csv:3: rejected: pdq value must be 64 hex characters" in output
    assert "hashes.csv:5: rejected: unknown signal type 'bogus'" in output
    assert "hashes.csv:6: rejected: degenerate hash" in output
    assert "2 added, 0 reactivated, 0 updated, 0 unchanged, 3 rejected" in output
    # Importing the same file again changes nothing.
    output = run("hashes", "import", str(csv_file), "--bank", "ncii", code=3)
    assert "0 added, 0 reactivated, 0 updated, 2 unchanged, 3 rejected" in output

    jsonl = tmp_path / "more.jsonl"
    jsonl.write_text(
        json.dumps({"signal_type": "pdq", "value": good[2], "external_id": "x"})
        + "\n"
        + "\n"
        + "{broken\n"
        + json.dumps({"signal_type": "md5", "value": "9e107d9d372bb6826bd81d3542a419d6"})
        + "\n"
    )
    output = run("hashes", "import", str(jsonl), "--bank", "ncii", code=3)
    assert "more.jsonl:3: rejected: invalid JSON" in output
    assert "2 added" in output
    banks = json.loads(run("banks", "list", "--json"))
    assert banks == [{"name": "ncii", "action": "block", "enabled": True, "hash_count": 4}]
    assert "no bank named 'other'" in run("hashes", "import", str(jsonl), "--bank", "other", code=1)


def test_commands_on_an_unmigrated_database_say_what_to_do(tmp_path: Path) -> None:
    runner = CliRunner()
    (tmp_path / "new.db").touch()  # a database with no schema (a missing file: see below)
    env = {"HASHWALL_DATABASE_URL": f"sqlite:///{tmp_path / 'new.db'}"}
    for args in (["keys", "list"], ["banks", "list"], ["serve", "--port", "1"]):
        result = runner.invoke(main, args, env=env)
        assert result.exit_code == 1, result.output
        assert "run `hashwall db upgrade`" in result.stderr


def test_hash_files(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    image = tmp_path / "photo.jpg"
    image.write_bytes(photo(4))
    record = json.loads(run("hash", str(image), "--json"))
    hashes = {h["signal_type"]: h for h in record["hashes"]}
    assert set(hashes) == {"pdq", "phash", "md5", "sha256"}
    assert len(hashes["pdq"]["value"]) == 64
    assert hashes["pdq"]["quality"] >= 50
    text = run("hash", str(image))
    assert f"{image}\tpdq\t{hashes['pdq']['value']}" in text
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"not an image")
    assert "not an image" in run("hash", str(broken), code=1)


def test_demo_sets_up_a_working_bank(run, database_url: str) -> None:  # type: ignore[no-untyped-def]
    output = run("demo")
    key = next(w for w in output.split() if w.startswith("hw_"))
    body = output.split("-d '")[1].split("'")[0]
    with TestClient(create_app(Settings(database_url=database_url))) as client:
        response = client.post(
            "/v1/match", content=body, headers={**bearer(key), "Content-Type": "application/json"}
        )
        assert response.json()["results"][0]["verdict"] == "block"
        # The demo bank queues its blocks: the lookup shows in the review queue.
        client.app.state.hashwall.recorder.flush()  # type: ignore[attr-defined]
        items = client.get("/v1/reviews", headers=bearer(key)).json()["items"]
        assert [i["content_id"] for i in items] == ["demo-upload-1"]
    assert "/ui/" in output
    assert "holds 8 hashes" in output


def test_demo_again_keeps_one_live_key(run) -> None:  # type: ignore[no-untyped-def]
    first = run("demo")
    second = run("demo")
    assert "1 key(s) earlier demos made are revoked" in second
    assert "holds 8 hashes" in second  # the same samples, not added twice
    keys = json.loads(run("keys", "list", "--json"))
    live = [k for k in keys if k["name"].startswith("demo-") and not k["revoked"]]
    assert len(live) == 1 and "revoked" not in first


def test_videos_export_as_vpdq_and_import_into_a_bank(  # type: ignore[no-untyped-def]
    run, database_url: str, tmp_path: Path
) -> None:
    movie = tmp_path / "case-12.mp4"
    movie.write_bytes(video([1, 2, 3]))
    lines = run("hash", str(movie)).splitlines()
    assert [line.split("\t")[1] for line in lines] == ["md5", "sha256", "vpdq"]
    assert lines[2].endswith("frames=9")
    as_json = json.loads(run("hash", "--json", str(movie)))
    exported = run("hash", "--vpdq", str(movie))
    assert as_json["hashes"][2]["value"] == exported
    assert exported.splitlines()[1].startswith("10,")
    assert "one video file" in run("hash", "--vpdq", str(movie), str(movie), code=2)
    picture = tmp_path / "p.jpg"
    picture.write_bytes(photo(1))
    assert "not a video" in run("hash", "--vpdq", str(picture), code=1)

    # Meta's vpdq text is a hash file format: the file is one video, named by its stem.
    run("banks", "create", "videos", "--action", "block")
    hashes = tmp_path / "case-12.vpdq"
    hashes.write_text(exported)
    assert "1 added" in run("hashes", "import", str(hashes), "--bank", "videos")
    broken = tmp_path / "broken.txt"
    broken.write_text(exported.replace(exported.splitlines()[1], "10,100,abc,1.000"))
    assert f"{broken}: rejected: vpdq line 2: pdq hash must be 64 hex" in run(
        "hashes", "import", str(broken), "--bank", "videos", "--format", "vpdq", code=3
    )
    settings = Settings(database_url=database_url)
    clip = {"signal_type": "vpdq", "value": run("hash", "--vpdq", str(movie))}
    with TestClient(create_app(settings)) as client:
        key = json.loads(run("keys", "create", "--name", "k", "--scopes", "admin", "--json"))
        response = client.post("/v1/match", json={"items": [clip]}, headers=bearer(key["key"]))
        (result,) = response.json()["results"]
        assert result["verdict"] == "block"
        assert result["matches"][0]["external_id"] == "case-12"


def test_banks_create_refuses_the_names_the_api_refuses(run) -> None:  # type: ignore[no-untyped-def]
    output = run("banks", "create", "bad name!", code=1)
    assert "bank name 'bad name!' must be" in output
    run("banks", "create", "good.name-1")


def test_empty_lists_say_so(run) -> None:  # type: ignore[no-untyped-def]
    assert "no feeds yet" in run("feeds", "list")
    assert "no banks yet" in run("banks", "list")
    assert run("feeds", "list", "--json").strip() == "[]"
