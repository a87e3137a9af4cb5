"""The CLI does what the API does: banks updated and deleted, hashes listed, exported
(and imported back), removed; feeds removed; the verdict log read."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import Engine

from app.db import make_session_factory
from app.store import verdicts
from tests.factories import random_pdq


def test_banks_update_and_delete(run) -> None:  # type: ignore[no-untyped-def]
    run("banks", "create", "ncii")
    out = run(
        "banks", "update", "ncii", "--action", "review", "--disable", "--threshold", "pdq=20,40"
    )
    assert "action=review" in out and "enabled=False" in out
    (bank,) = json.loads(run("banks", "list", "--json"))
    assert (bank["action"], bank["enabled"]) == ("review", False)
    assert "nothing to change" in run("banks", "update", "ncii", code=2)
    assert "pdq=20" in run("banks", "update", "ncii", "--threshold", "pdq=20", code=2)
    assert "no bank" in run("banks", "update", "nope", "--enable", code=1)
    assert "deleted with its 0 active hashes" in run("banks", "delete", "ncii", "--yes")
    assert "no banks yet" in run("banks", "list")


def test_hashes_list_export_import_remove(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    run("banks", "create", "ncii")
    source = tmp_path / "in.csv"
    values = [random_pdq(n) for n in range(3)]
    source.write_text(
        "signal_type,value,external_id\n"
        + "".join(f"pdq,{v},case-{n}\n" for n, v in enumerate(values))
    )
    run("hashes", "import", str(source), "--bank", "ncii")
    listed = json.loads(run("hashes", "list", "ncii", "--json"))
    assert [h["value"] for h in listed] == values and listed[0]["external_id"] == "case-0"
    exported = tmp_path / "out.csv"
    assert "3 hashes of ncii exported" in run("hashes", "export", "ncii", "--output", str(exported))
    # The export round-trips: into a new bank, the same hashes and external ids.
    run("banks", "create", "copy")
    run("hashes", "import", str(exported), "--bank", "copy")
    copied = json.loads(run("hashes", "list", "copy", "--json"))
    assert [(h["value"], h["external_id"]) for h in copied] == [
        (h["value"], h["external_id"]) for h in listed
    ]
    as_jsonl = run("hashes", "export", "ncii", "--format", "jsonl")
    assert json.loads(as_jsonl.splitlines()[0])["value"] == values[0]
    assert "removed from ncii" in run("hashes", "remove", "ncii", "pdq", values[0].upper())
    assert len(json.loads(run("hashes", "list", "ncii", "--json"))) == 2
    everything = json.loads(run("hashes", "list", "ncii", "--all", "--json"))
    assert [h["status"] for h in everything] == ["deleted", "active", "active"]
    assert "no active pdq hash" in run("hashes", "remove", "ncii", "pdq", values[0], code=1)


def test_feeds_remove(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    run("banks", "create", "ncii")
    feed = tmp_path / "feed.csv"
    feed.write_text(f"pdq,{random_pdq(9)}\n")
    run("feeds", "add", "--name", "local", "--kind", "file", "--url", str(feed), "--bank", "ncii")
    assert "feed local removed" in run("feeds", "remove", "local", "--yes")
    assert "no feeds yet" in run("feeds", "list")
    assert "no feed" in run("feeds", "remove", "local", "--yes", code=1)


def test_verdicts_list_filters(run, engine: Engine) -> None:  # type: ignore[no-untyped-def]
    from app.models import utcnow

    with make_session_factory(engine)() as session, session.begin():
        verdicts.insert_entries(
            session,
            [
                {
                    "created_at": utcnow(),
                    "key_name": "pipeline",
                    "content_id": f"post-{n}",
                    "signal_types": ["pdq"],
                    "verdict": verdict,
                    "reason": "matched" if verdict == "block" else "no_match",
                    "matches": [{"hash_id": 1, "bank": "ncii"}] if verdict == "block" else [],
                    "policy_version": "x",
                }
                for n, verdict in enumerate(["block", "allow", "block"])
            ],
        )
    rows = json.loads(run("verdicts", "list", "--verdict", "block", "--json"))
    assert [r["content_id"] for r in rows] == ["post-2", "post-0"]
    assert "post-1" in run("verdicts", "list", "--content-id", "post-1")
    assert "no verdicts" in run("verdicts", "list", "--since", "2999-01-01")


def test_an_import_counts_every_line_once(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """A hash on several lines: the later line wins, the earlier count as superseded."""
    a, b, c, d, e = (random_pdq(20 + n) for n in range(5))
    source = tmp_path / "dupes.csv"
    source.write_text(
        "signal_type,value,external_id,status\n"
        f"pdq,{a},first,active\n"
        f"pdq,{b},,active\n"
        "pdq,not-a-hash,,active\n"
        f"pdq,{a},second,active\n"
        f"pdq,{c},,withdrawn\n"
        f"pdq,{b},,active\n"
        f"pdq,{d},,active\n"
        f"pdq,{d},,withdrawn\n"
        f"pdq,{e},,active\n"
    )
    run("banks", "create", "ncii")
    out = run("hashes", "import", str(source), "--bank", "ncii", code=3)
    assert (
        "3 added, 0 reactivated, 0 updated, 0 unchanged, 1 rejected, 0 removed, "
        "2 withdrawals of hashes not held, 3 superseded by a later line for the same hash"
    ) in out  # 3 + 1 + 2 + 3 = the 9 lines read
    held = {
        h["value"]: h["external_id"] for h in json.loads(run("hashes", "list", "ncii", "--json"))
    }
    assert held == {a: "second", b: None, e: None}
