"""POST /v1/match and /v1/match/media: hashes or media in, verdicts out."""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool

from app.auth import Principal
from app.deps import MatchKey, SessionDep, StateDep
from app.errors import InvalidInput
from app.matching import hash_files, match_subjects, parse_items, parse_signal
from app.policy import Verdict
from app.schemas import (
    ComputedHash,
    MatchDetail,
    MatchRequest,
    MatchResponse,
    MatchResult,
    MediaMatchResponse,
    MediaMatchResult,
)
from app.state import AppState
from app.store.hashes import external_ids
from app.uploads import read_upload
from matcher.signals import Signal

router = APIRouter(prefix="/v1", tags=["matching"])

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
                            "description": "One or more images; repeat the field.",
                        }
                    },
                }
            }
        },
    }
}


def results_for(
    state: AppState,
    session: SessionDep,
    principal: Principal,
    verdicts: Sequence[Verdict],
    content_ids: Sequence[str | None],
    signal_types: Sequence[Sequence[str]],
) -> list[MatchResult]:
    """Record each verdict and shape it for this caller: details only with the scope."""
    details = principal.has("match:details")
    external = (
        external_ids(session, (m.hash_id for v in verdicts for m in v.matches)) if details else {}
    )
    results = []
    for verdict, content_id, types in zip(verdicts, content_ids, signal_types, strict=True):
        state.recorder.record(principal.name, content_id, types, verdict)
        state.metrics.verdicts.labels(verdict.action.value, verdict.reason.value).inc()
        matches = (
            [
                MatchDetail(
                    bank=m.bank,
                    signal_type=m.signal_type,
                    distance=m.distance,
                    action=m.action.value,
                    reason=m.reason.value,
                    hash_id=m.hash_id,
                    external_id=external.get(m.hash_id),
                )
                for m in verdict.matches
            ]
            if details
            else []
        )
        results.append(
            MatchResult(
                verdict=verdict.action.value,
                reason=verdict.reason.value,
                content_id=content_id,
                matches=matches,
            )
        )
    return results


@router.post("/match", response_model=MatchResponse, response_model_exclude_none=True)
def match_hashes(
    body: MatchRequest, state: StateDep, session: SessionDep, principal: MatchKey
) -> MatchResponse:
    """A verdict for each submitted hash, in order."""
    limit = state.settings.max_batch_items
    if len(body.items) > limit:
        raise InvalidInput(
            f"{len(body.items)} items submitted; at most {limit} per request",
            [{"pointer": "/items", "detail": f"at most {limit} items"}],
        )
    queries = parse_items(
        state.registry, [Signal(i.signal_type, i.value, i.quality) for i in body.items]
    )
    verdicts = match_subjects(state.live, [[q] for q in queries])
    results = results_for(
        state,
        session,
        principal,
        verdicts,
        [i.content_id for i in body.items],
        [[q.signal_type] for q in queries],
    )
    return MatchResponse(results=results)


@router.post(
    "/match/media",
    response_model=MediaMatchResponse,
    response_model_exclude_none=True,
    openapi_extra=MULTIPART_BODY,
)
async def match_media(
    request: Request, state: StateDep, session: SessionDep, principal: MatchKey
) -> MediaMatchResponse:
    """Hash each uploaded image in memory (then drop it) and give a verdict for each."""
    upload = await read_upload(
        request.headers.get("content-type"),
        request.stream(),
        file_field="file",
        max_file_bytes=state.settings.max_upload_bytes,
        max_files=state.settings.max_files_per_request,
    )
    files = [(f.filename, f.data) for f in upload.files]
    names = [f.filename for f in upload.files]
    del upload
    hashed = await run_in_threadpool(hash_files, state.registry, files, state.settings.limits)
    del files
    subjects = [[parse_signal(state.registry, s) for s in signals] for signals in hashed]
    verdicts = await run_in_threadpool(match_subjects, state.live, subjects)
    base = await run_in_threadpool(
        results_for,
        state,
        session,
        principal,
        verdicts,
        [None] * len(hashed),
        [[s.signal_type for s in signals] for signals in hashed],
    )
    return MediaMatchResponse(
        results=[
            MediaMatchResult(
                **result.model_dump(),
                filename=name,
                hashes=[
                    ComputedHash(signal_type=s.signal_type, value=s.value, quality=s.quality)
                    for s in signals
                ],
            )
            for result, name, signals in zip(base, names, hashed, strict=True)
        ]
    )
