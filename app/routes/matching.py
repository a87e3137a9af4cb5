"""POST /v1/match and /v1/match/media: hashes or media in, verdicts out."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from app.auth import Principal
from app.deps import MatchKey, StateDep
from app.errors import InvalidInput
from app.ledger.record import CONTENT_ID_MAX, ledger_rows, valid_content_id
from app.matching import match_subjects, parse_items, parse_signal, with_second_look
from app.models import utcnow
from app.policy import Action, Match, Verdict
from app.schemas import MatchItem, MatchRequest, MatchResponse, MediaMatchResponse
from app.state import AppState
from app.store.hashes import external_ids
from app.uploads import read_media
from matcher.signals import Signal
from matcher.video_match import VideoMatch

router = APIRouter(prefix="/v1", tags=["matching"])

#: Batches up to this size, of single hashes (not a video's frames), are matched on the
#: event loop: the hop to the thread pool and back cost more than the lookups themselves
#: (single lookups went from about 1,000 to 1,500-1,900 a second in one process,
#: benchmarks/RESULTS.md), and the loop waits for a few index searches at most (about
#: 0.5 ms each at the 47-bit review distance and 1M hashes).
INLINE_ITEMS = 4

MULTIPART_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {
                            "type": "array",
                            "items": {"type": "string", "format": "binary"},
                            "description": "One or more images or videos; repeat the field.",
                        }
                    },
                }
            }
        },
    }
}


def results_for(
    state: AppState,
    principal: Principal,
    verdicts: Sequence[Verdict],
    content_ids: Sequence[str | None],
    signal_types: Sequence[Sequence[str]],
    own_hashes: Sequence[Sequence[tuple[str, str, int | None]]],
    hashes: Sequence[Sequence[Signal]],
) -> list[dict[str, Any]]:
    """Record each verdict and shape it (as `MatchResult` JSON) for this caller; with
    the ledger on, record each named upload's `hashes` in it.

    Match details go only to keys with the `match:details` scope; others learn the
    verdict and the reason class. Plain dicts, not models: this is the hot path.
    """
    details = principal.has("match:details")
    external: dict[int, str | None] = {}
    matched = [m.hash_id for v in verdicts for m in v.matches]
    if details and matched:
        with state.sessions() as session:
            external = external_ids(session, matched)
    results = []
    # One counter update per kind of verdict, not per verdict: a label lookup cost 4 us.
    counts = Counter((v.action.value, v.reason.value) for v in verdicts)
    for labels, count in counts.items():
        state.metrics.verdicts.labels(*labels).inc(count)
    queue_blocks = state.live.queue_blocks
    keep = state.settings.ledger_days > 0
    seen_seq, now = state.follower.cursor, utcnow()
    for verdict, content_id, types, own, signals in zip(
        verdicts, content_ids, signal_types, own_hashes, hashes, strict=True
    ):
        rows = (
            ledger_rows(content_id, signals, seen_seq, [m.hash_id for m in verdict.matches], now)
            if keep and content_id
            else ()
        )
        state.recorder.record(principal.name, content_id, types, verdict, own, queue_blocks, rows)
        result: dict[str, Any] = {"verdict": verdict.action.value, "reason": verdict.reason.value}
        if content_id is not None:
            result["content_id"] = content_id
        result["matches"] = [
            match_detail(m, external.get(m.hash_id)) for m in (verdict.matches if details else ())
        ]
        results.append(result)
    return results


def match_detail(m: Match, external_id: str | None) -> dict[str, Any]:
    """One match as `MatchDetail` JSON (what `match:details` keys and moderators see)."""
    return without_none(
        {
            "bank": m.bank,
            "signal_type": m.signal_type,
            "distance": m.distance,
            "action": m.action.value,
            "reason": m.reason.value,
            "hash_id": m.hash_id,
            "external_id": external_id,
            "variant": m.variant,
            "part": m.part,
            "video": video_detail(m.video) if m.video else None,
        }
    )


def video_detail(found: VideoMatch) -> dict[str, Any]:
    """The shares and time ranges of a video match, as `VideoMatchDetail` JSON."""
    return {
        "query_share": round(found.query_share, 1),
        "target_share": round(found.target_share, 1),
        "matched_frames": found.matched_frames,
        "query_ranges": [list(r) for r in found.query_ranges],
        "target_ranges": [list(r) for r in found.target_ranges],
    }


def without_none(values: dict[str, Any]) -> dict[str, Any]:
    """Drop absent optional fields, as the documented responses omit them."""
    return {k: v for k, v in values.items() if v is not None}


def match_items(
    state: AppState, principal: Principal, items: list[MatchItem]
) -> list[dict[str, Any]]:
    """Parse, look up and judge a batch of submitted hashes."""
    queries = parse_items(
        state.registry, [Signal(i.signal_type, i.value, i.quality) for i in items]
    )
    verdicts = match_subjects(state.live, [[q] for q in queries])
    return results_for(
        state,
        principal,
        verdicts,
        [i.content_id for i in items],
        [[q.signal_type] for q in queries],
        [[(q.signal_type, q.value, q.quality)] for q in queries],
        [[Signal(q.signal_type, q.value, q.quality)] for q in queries],
    )


@router.post("/match", response_model=MatchResponse, response_model_exclude_none=True)
async def match_hashes(body: MatchRequest, state: StateDep, principal: MatchKey) -> JSONResponse:
    """A verdict for each submitted hash, in order."""
    limit = state.settings.max_batch_items
    if len(body.items) > limit:
        raise InvalidInput(
            f"{len(body.items)} items submitted; at most {limit} per request",
            [{"pointer": "/items", "detail": f"at most {limit} items"}],
        )
    # Larger batches and videos' frames: one hop to the thread pool for all the blocking
    # work (index search, details query), so the event loop serves other requests meanwhile.
    sequences = state.registry.sequences
    if len(body.items) <= INLINE_ITEMS and not any(i.signal_type in sequences for i in body.items):
        results = match_items(state, principal, body.items)
    else:
        results = await run_in_threadpool(match_items, state, principal, body.items)
    return JSONResponse({"results": results})


@router.post(
    "/match/media",
    response_model=MediaMatchResponse,
    response_model_exclude_none=True,
    openapi_extra=MULTIPART_BODY,
)
async def match_media(request: Request, state: StateDep, principal: MatchKey) -> JSONResponse:
    """Hash each uploaded image or video in memory (then drop it); a verdict for each."""
    upload = await read_media(request, state.settings)
    files = [(f.filename, f.data) for f in upload.files]
    content_ids = media_content_ids(upload.repeated.get("content_id", []), len(files))
    del upload
    hashed = await state.hasher.hash_files(files, variants=True)
    verdicts = await run_in_threadpool(file_verdicts, state, hashed)
    # A second look for files whose derived orientations came close: hashed again on the
    # turned-back picture, they may come within the match distance.
    again = [i for i, v in enumerate(verdicts) if v.action is not Action.BLOCK and v.near_variants]
    if again:
        exact = await state.hasher.second_look(
            [files[i][1] for i in again], [verdicts[i].near_variants for i in again]
        )
        for i, signals in zip(again, exact, strict=True):
            hashed[i] = with_second_look(hashed[i], signals)
        redo = await run_in_threadpool(file_verdicts, state, [hashed[i] for i in again])
        for i, verdict in zip(again, redo, strict=True):
            verdicts[i] = verdict
    names = [name for name, _ in files]
    del files  # the media is not needed past hashing
    results = await run_in_threadpool(
        judge_files, state, principal, names, content_ids, hashed, verdicts
    )
    return JSONResponse({"results": results})


def media_content_ids(values: list[str], files: int) -> list[str | None]:
    """The `content_id` form fields of a media request: none, or one per file in order."""
    if not values:
        return [None] * files
    if len(values) != files:
        raise InvalidInput(
            f"{len(values)} content_id fields for {files} files; send one per file, or none",
            [{"pointer": "/content_id", "detail": "one per file"}],
        )
    for position, value in enumerate(values):
        if not valid_content_id(value):
            raise InvalidInput(
                f"content_id {position} must be 1 to {CONTENT_ID_MAX} printable characters",
                [{"pointer": f"/content_id/{position}", "detail": "invalid content id"}],
            )
    return list(values)


def file_verdicts(state: AppState, hashed: list[list[Signal]]) -> list[Verdict]:
    """Look up each file's hashes and candidates; a verdict per file."""
    subjects = [[parse_signal(state.registry, s) for s in signals] for signals in hashed]
    return match_subjects(state.live, subjects)


def judge_files(
    state: AppState,
    principal: Principal,
    names: list[str | None],
    content_ids: list[str | None],
    hashed: list[list[Signal]],
    verdicts: list[Verdict],
) -> list[dict[str, Any]]:
    """Record and shape each file's verdict; say which candidate decided (`original`:
    the file's own hash)."""
    results = results_for(
        state,
        principal,
        verdicts,
        content_ids,
        [list(dict.fromkeys(s.signal_type for s in sig)) for sig in hashed],
        [[(s.signal_type, s.value, s.quality) for s in sig if s.variant is None] for sig in hashed],
        hashed,
    )
    for result, name, signals, verdict in zip(results, names, hashed, verdicts, strict=True):
        if name is not None:
            result["filename"] = name
        if verdict.matches:
            result["candidate"] = verdict.matches[0].variant or "original"
        result["hashes"] = [
            without_none({"signal_type": s.signal_type, "value": s.value, "quality": s.quality})
            for s in signals
            if s.variant is None
        ]
    return results
