"""File feeds: local paths and URLs, CSV, JSONL, pdq and vpdq text, resuming and re-reading."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from app.feeds.base import RecordStatus
from app.feeds.files import FileFeed, LineParser, detect_format, to_record
from app.feeds.runner import FeedRunner
from app.models import HashRecord
from app.store.frames import frames_of
from matcher.errors import MatcherError
from matcher.limits import Limits
from matcher.signals import default_registry
from matcher.video import hash_video
from matcher.vpdq import VPDQ, format_video
from tests.factories import random_pdq, video
from tests.feedserver import FeedState


def test_formats_are_detected_and_parsed() -> None:
    value = random_pdq(1)
    assert detect_format("x.csv", "") == "csv"
    assert detect_format("https://h/x.jsonl?y=1", "") == "jsonl"
    assert detect_format("hashes", f"{value},100,photo.jpg") == "pdq"
    assert detect_format("hashes", '{"signal_type": "pdq"}') == "jsonl"
    registry = default_registry()
    assert to_record(registry, LineParser("pdq").parse(f"{value.upper()},87,a.jpg")) == to_record(  # type: ignore[arg-type]
        registry, {"signal_type": "pdq", "value": value, "quality": "87"}
    )
    parser = LineParser("csv")
    assert parser.parse("signal_type,value,status") is None
    fields = parser.parse(f"pdq,{value},withdrawn")
    assert isinstance(fields, dict)
    assert to_record(registry, fields).status is RecordStatus.WITHDRAWN
    assert LineParser("csv").parse("signal_type,value,colour") == "unknown columns: colour"
    with pytest.raises(MatcherError, match="unknown status"):
        to_record(registry, {"signal_type": "pdq", "value": value, "status": "maybe"})
    with pytest.raises(MatcherError, match="quality must be an integer"):
        to_record(registry, {"signal_type": "pdq", "value": value, "quality": "high"})


def test_pages_resume_from_the_byte_offset(tmp_path: Path) -> None:
    values = [random_pdq(300 + i) for i in range(7)]
    path = tmp_path / "bank.pdq"
    path.write_text("".join(f"{v},90,img{i}.jpg\n" for i, v in enumerate(values)) + "bad\n")
    feed = FileFeed(str(path), default_registry(), page_lines=3)
    seen, checkpoint, pages = [], None, 0
    while True:
        page = feed.fetch(checkpoint)
        pages += 1
        seen += [r.value for r in page.records]
        checkpoint = page.checkpoint
        if page.done:
            break
    assert seen == values and pages == 3
    assert page.rejects[0].line == 8
    # Unchanged: nothing is read again. Changed: read from the top.
    assert feed.fetch(checkpoint).records == []
    path.write_text(f"{values[0]}\n")
    assert [r.value for r in feed.fetch(checkpoint).records] == [values[0]]


def test_a_feed_from_a_url_and_a_path(
    server: tuple[str, FeedState],
    runner: FeedRunner,
    add_feed: Callable[..., None],
    statuses: Callable[[], dict[str, str]],
    tmp_path: Path,
) -> None:
    base, state = server
    values = [random_pdq(400 + i) for i in range(4)]
    lines = [
        json.dumps({"signal_type": "pdq", "value": v, "case_ref": f"c{i}"})
        for i, v in enumerate(values)
    ]
    state.files["bank.jsonl"] = ("\n".join([*lines, "{oops"]).encode(), '"v1"')
    add_feed("remote", "file", f"{base}/files/bank.jsonl")
    report = runner.sync("remote")
    assert report.error is None and report.applied.added == 4 and report.rejected == 1
    assert runner.sync("remote").records == 0  # same ETag: not read again
    withdrawn = json.dumps({"signal_type": "pdq", "value": values[0], "status": "withdrawn"})
    state.files["bank.jsonl"] = ("\n".join([*lines[1:], withdrawn]).encode(), '"v2"')
    report = runner.sync("remote")
    assert report.applied.removed == 1 and report.applied.unchanged == 3
    assert statuses()[values[0]] == "withdrawn"

    csv_file = tmp_path / "local.csv"
    csv_file.write_text(f"signal_type,value,external_id\npdq,{random_pdq(500)},x-1\n")
    add_feed("local", "file", str(csv_file), bank="local")
    assert runner.sync("local").applied.added == 1
    add_feed("missing", "file", str(tmp_path / "nope.csv"), bank="local")
    report = runner.sync("missing")
    assert report.error is not None and "cannot be read" in report.error
    state.files.pop("bank.jsonl")
    report = runner.sync("remote")
    assert report.error is not None and "HTTP 404" in report.error


def test_a_vpdq_file_banks_one_video_with_its_frames(
    runner: FeedRunner,
    add_feed: Callable[..., None],
    sessions: sessionmaker[Session],
    tmp_path: Path,
) -> None:
    hashed = hash_video(video([1, 2]), Limits())
    text = format_video(hashed)
    # Meta's vpdq names the file after the video; the name becomes the external id.
    path = tmp_path / "case-17.txt"
    path.write_text(text)
    assert detect_format(str(path), text.splitlines()[0]) == "vpdq"
    add_feed("videos", "file", str(path), bank="videos")
    report = runner.sync("videos")
    assert report.error is None and report.applied.added == 1 and report.rejected == 0
    with sessions() as session:
        stored = session.execute(select(HashRecord)).scalar_one()
        assert (stored.signal_type, stored.external_id) == ("vpdq", "case-17")
        assert stored.value == VPDQ().format(VPDQ.identity(hashed))
        assert frames_of(session, [stored.id])[stored.id].frames == hashed.frames
    assert runner.sync("videos").records == 0  # unchanged: not read again

    broken = tmp_path / "broken.vpdq"
    broken.write_text(text.replace(",", ";", 1))
    add_feed("broken", "file", str(broken), bank="videos")
    report = runner.sync("broken")
    assert report.applied.added == 0 and report.rejected == 1
