"""Banks (create, enable or disable, thresholds, counts, add a hash) and lookups."""

from __future__ import annotations

from typing import Any

from fastapi.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from app.matching import match_subjects, parse_items
from app.routes import banks as bank_routes
from app.routes.matching import file_verdicts, match_detail
from app.schemas import BankCreate, BankUpdate, HashBatch
from app.store.hashes import external_ids
from app.ui.base import field, form_of, page, parsed, redirect, render, state_of
from app.ui.session import UiSession, check_csrf
from app.uploads import read_media
from matcher.signals import Signal


@page()
async def banks(request: Request, session: UiSession) -> Response:
    """Every bank with its counts, thresholds, and forms to change them."""
    state = state_of(request)

    def gather() -> list[Any]:
        with state.sessions() as db:
            return bank_routes.list_banks(db, session.principal).banks

    listed = await run_in_threadpool(gather)
    return render(
        request,
        "banks.html",
        session,
        banks=listed,
        signal_types=[t.name for t in state.registry],
        can_write=session.principal.has("banks:write"),
    )


@page("banks:write")
async def create_bank(request: Request, session: UiSession) -> Response:
    """Create a bank."""
    state, form = state_of(request), await form_of(request)
    body = parsed(
        BankCreate,
        {
            "name": field(form, "name"),
            "action": field(form, "action"),
            "description": field(form, "description"),
            "queue_blocks": field(form, "queue_blocks") == "on",
        },
    )

    def run() -> None:
        with state.sessions() as db:
            bank_routes.create_bank(body, state, db, session.principal)

    await run_in_threadpool(run)
    return redirect(request, "/ui/banks", f"Bank {body.name} created.")


@page("banks:write")
async def update_bank(request: Request, session: UiSession) -> Response:
    """Enable or disable a bank, or set its pdq thresholds."""
    state, form, name = state_of(request), await form_of(request), request.path_params["name"]
    changes: dict[str, Any] = {}
    if field(form, "enabled"):
        changes["enabled"] = field(form, "enabled") == "true"
    if field(form, "match") or field(form, "review"):
        signal = field(form, "signal_type", "pdq")
        changes["thresholds"] = {
            signal: {"match": field(form, "match"), "review": field(form, "review")}
        }
    body = parsed(BankUpdate, changes)

    def run() -> None:
        with state.sessions() as db:
            bank_routes.update_bank(name, body, state, db, session.principal)

    await run_in_threadpool(run)
    return redirect(request, "/ui/banks", f"Bank {name} updated.")


@page("banks:write")
async def add_hash(request: Request, session: UiSession) -> Response:
    """Add one hash to a bank."""
    state, form, name = state_of(request), await form_of(request), request.path_params["name"]
    body = parsed(
        HashBatch,
        {"items": [{"signal_type": field(form, "signal_type"), "value": field(form, "value")}]},
    )

    def run() -> Any:
        with state.sessions() as db:
            return bank_routes.add_hashes(name, body, state, db, session.principal)

    result = await run_in_threadpool(run)
    word = "added" if result.added or result.reactivated else "already there"
    return redirect(request, "/ui/banks", f"Hash {word} in {name}.")


def match_views(verdicts: list[Any], names: dict[int, str | None]) -> list[Any]:
    """Verdicts with every match, its distance and why it counts, for moderators."""
    return [
        {
            "verdict": v.action.value,
            "reason": v.reason.value,
            "matches": [match_detail(m, names.get(m.hash_id)) for m in v.matches],
        }
        for v in verdicts
    ]


@page()
async def lookup_page(request: Request, session: UiSession) -> Response:
    """The lookup form."""
    return render(request, "lookup.html", session, signal_types=list(state_of(request).registry))


def _external_ids(state: Any, verdicts: list[Any]) -> dict[int, str | None]:
    with state.sessions() as db:
        return external_ids(db, [m.hash_id for v in verdicts for m in v.matches])


@page()
async def lookup_hash(request: Request, session: UiSession) -> Response:
    """Look a pasted hash up. Nothing is recorded: a moderator's lookup is no upload."""
    state, form = state_of(request), await form_of(request)
    signal = Signal(field(form, "signal_type", "pdq"), field(form, "value"))

    def run() -> list[Any]:
        verdicts = match_subjects(state.live, [parse_items(state.registry, [signal])])
        return match_views(verdicts, _external_ids(state, verdicts))

    results = await run_in_threadpool(run)
    hashes = [{"signal_type": signal.signal_type, "value": signal.value}]
    return render(
        request,
        "lookup.html",
        session,
        signal_types=list(state.registry),
        results=[results[0] | {"hashes": hashes, "name": "pasted hash"}],
    )


@page(multipart=True)
async def lookup_media(request: Request, session: UiSession) -> Response:
    """Hash a dropped image or video in memory, then drop it; show its hashes and every
    match. Nothing is written anywhere."""
    state = state_of(request)
    upload = await read_media(request, state.settings)
    check_csrf(session, upload.fields.get("csrf"))
    files = [(f.filename, f.data) for f in upload.files]
    del upload
    hashed = await state.hasher.hash_files(files, variants=True)
    names = [name for name, _ in files]
    del files

    def run() -> list[Any]:
        verdicts = file_verdicts(state, hashed)
        return match_views(verdicts, _external_ids(state, verdicts))

    results = await run_in_threadpool(run)
    for result, name, signals in zip(results, names, hashed, strict=True):
        result["name"] = name or "upload"
        result["hashes"] = [
            {"signal_type": s.signal_type, "value": s.value, "quality": s.quality}
            for s in signals
            if s.variant is None
        ]
    return render(
        request, "lookup.html", session, signal_types=list(state.registry), results=results
    )
