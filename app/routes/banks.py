"""Banks and the hashes in them, under /v1/banks."""

from __future__ import annotations

import numpy as np
from fastapi import APIRouter, Request, Response, status
from fastapi.concurrency import run_in_threadpool
from sqlalchemy.orm import Session, SessionTransaction

from app.audit import store as audit
from app.auth import Principal
from app.deps import BanksReadKey, BanksWriteKey, SessionDep, StateDep
from app.errors import InvalidInput
from app.matching import DEGENERATE_DETAIL, parse_items, parse_signal
from app.models import Bank
from app.policy import Action
from app.routes.matching import MULTIPART_BODY
from app.schemas import (
    BankCreate,
    BankList,
    BankMediaFile,
    BankMediaResult,
    BankPublic,
    BankUpdate,
    ComputedHash,
    HashBatch,
    HashBatchResult,
    HashDecision,
    HashDecisionResult,
    HashKey,
    HashRemoved,
)
from app.state import AppState
from app.store import banks as bank_store
from app.store import feeds as feed_store
from app.store import hashes as hash_store
from app.store.hashes import NewHash
from app.uploads import read_media
from matcher.signals import Signal

router = APIRouter(prefix="/v1/banks", tags=["banks"])


def bank_public(bank: Bank, hash_count: int) -> BankPublic:
    """The API view of a bank."""
    return BankPublic.model_validate(
        {
            "name": bank.name,
            "action": bank.action,
            "enabled": bank.enabled,
            "thresholds": bank_store.effective_thresholds(bank),
            "description": bank.description,
            "queue_blocks": bank.queue_blocks,
            "hash_count": hash_count,
            "created_at": bank.created_at,
            "updated_at": bank.updated_at,
        }
    )


def count_of(session: Session, bank: Bank) -> int:
    """Active hashes in one bank."""
    return bank_store.active_counts(session, [bank.id]).get(bank.id, 0)


@router.get("", response_model=BankList, response_model_exclude_none=True)
def list_banks(session: SessionDep, _: BanksReadKey) -> BankList:
    """Every bank, with its active hash count."""
    counts = bank_store.active_counts(session)
    return BankList(
        banks=[bank_public(b, counts.get(b.id, 0)) for b in bank_store.list_banks(session)]
    )


@router.post(
    "",
    response_model=BankPublic,
    response_model_exclude_none=True,
    status_code=status.HTTP_201_CREATED,
)
def create_bank(
    body: BankCreate, state: StateDep, session: SessionDep, principal: BanksWriteKey
) -> BankPublic:
    """Create a bank. Its name must be new."""
    with session.begin():
        bank = bank_store.create_bank(
            session,
            state.registry,
            body.name,
            Action(body.action),
            body.enabled,
            {k: v.model_dump() for k, v in body.thresholds.items()},
            body.description,
            queue_blocks=body.queue_blocks,
        )
        audit.append(
            session,
            audit.key_actor(principal.name),
            "bank.create",
            f"bank:{bank.name}",
            body.model_dump(mode="json"),
        )
    state.live.refresh_banks(session)
    return bank_public(bank, 0)


@router.get("/{name}", response_model=BankPublic, response_model_exclude_none=True)
def get_bank(name: str, session: SessionDep, _: BanksReadKey) -> BankPublic:
    """One bank, with its active hash count."""
    bank = bank_store.get_bank(session, name)
    return bank_public(bank, count_of(session, bank))


@router.patch("/{name}", response_model=BankPublic, response_model_exclude_none=True)
def update_bank(
    name: str, body: BankUpdate, state: StateDep, session: SessionDep, principal: BanksWriteKey
) -> BankPublic:
    """Change a bank's action, enabled flag, thresholds or description; effective at once."""
    changes = body.model_dump(exclude_unset=True)
    if any(v is None for v in changes.values()):
        raise InvalidInput("fields may be omitted but not null")
    with session.begin():
        bank = bank_store.update_bank(
            session, state.registry, bank_store.get_bank(session, name), changes
        )
        audit.append(
            session,
            audit.key_actor(principal.name),
            "bank.update",
            f"bank:{name}",
            body.model_dump(mode="json", exclude_unset=True),
        )
    state.live.refresh_banks(session)
    return bank_public(bank, count_of(session, bank))


@router.delete("/{name}", status_code=status.HTTP_204_NO_CONTENT)
def delete_bank(
    name: str, state: StateDep, session: SessionDep, principal: BanksWriteKey
) -> Response:
    """Delete a bank and every hash in it."""
    # Under the follower's lock: a catch-up that read these hashes before the commit
    # must not put them back after they are removed here (`remove_hash`).
    with state.follower.applying:
        with session.begin():
            removed = bank_store.delete_bank(session, bank_store.get_bank(session, name))
            audit.append(
                session,
                audit.key_actor(principal.name),
                "bank.delete",
                f"bank:{name}",
                {"hashes": sum(len(ids) for ids in removed.values())},
            )
        for signal_type, ids in removed.items():
            state.live.remove(signal_type, ids)
    state.live.refresh_banks(session)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


def require_bank(state: AppState, name: str) -> None:
    """Raise `NotFound` before an upload is read if the bank does not exist."""
    with state.sessions() as session:
        bank_store.get_bank(session, name)


def store_hashes(
    state: AppState,
    session: Session,
    principal: Principal,
    name: str,
    items: list[NewHash],
    source: str,
) -> hash_store.AddResult:
    """Upsert hashes into a bank, then make them matchable at once (so this process's
    change follower need not read them again)."""
    transaction = session.begin()
    try:
        bank = bank_store.get_bank(session, name)
        result = hash_store.add_hashes(session, bank, items, source)
        audit.append(
            session,
            audit.key_actor(principal.name),
            "hashes.add",
            f"bank:{name}",
            {
                "count": len(items),
                "added": result.added,
                "reactivated": result.reactivated,
                "source": source,
                "digest": audit.digest(f"{i.signal_type}:{i.value}" for i in items),
            },
        )
    except BaseException:
        transaction.rollback()
        raise
    commit_and_index(state, transaction, result)
    return result


def commit_and_index(
    state: AppState, transaction: SessionTransaction, result: hash_store.AddResult | None
) -> None:
    """Commit hashes added in `transaction` and index them at once, under the follower's
    lock (see `ChangeFollower.applied_here`); the inserts before ran without it."""
    with state.follower.applying:
        transaction.commit()
        if result is not None:
            state.live.add(result.to_index)
            state.follower.applied_here(result.changes)


@router.post("/{name}/hashes", response_model=HashBatchResult)
def add_hashes(
    name: str, body: HashBatch, state: StateDep, session: SessionDep, principal: BanksWriteKey
) -> HashBatchResult:
    """Add a batch of hashes; adding the same batch again changes nothing.

    The whole batch is checked first: one invalid or degenerate hash refuses it all.
    """
    queries = parse_items(
        state.registry, [Signal(i.signal_type, i.value, i.quality) for i in body.items]
    )
    degenerate = [
        {"pointer": f"/items/{n}", "detail": DEGENERATE_DETAIL}
        for n, q in enumerate(queries)
        if q.degenerate
    ]
    if degenerate:
        raise InvalidInput(f"{len(degenerate)} degenerate hash(es) refused", degenerate)
    frameless = [
        {"pointer": f"/items/{n}", "detail": "a video is banked with its frames (vpdq text)"}
        for n, q in enumerate(queries)
        if state.registry.get(q.signal_type).sequence and q.frames is None
    ]
    if frameless:
        raise InvalidInput(f"{len(frameless)} video hash(es) without frames refused", frameless)
    items = [
        NewHash(q.signal_type, q.value, i.quality, i.external_id, i.case_ref, q.frames)
        for q, i in zip(queries, body.items, strict=True)
    ]
    result = store_hashes(state, session, principal, name, items, body.source)
    return HashBatchResult(
        added=result.added,
        reactivated=result.reactivated,
        updated=result.updated,
        unchanged=result.unchanged,
    )


@router.post("/{name}/hashes/decisions", response_model=HashDecisionResult)
def decide_hashes(
    name: str, body: HashDecision, state: StateDep, session: SessionDep, principal: BanksWriteKey
) -> HashDecisionResult:
    """A moderator's decision on hashes: `confirm` lets hashes from an unconfirmed feed
    block from the very next request; either decision is fed back to the feed the hash
    came from (Blocked or NotBlocked), once."""
    queries = parse_items(state.registry, [Signal(i.signal_type, i.value) for i in body.items])
    keys = [(q.signal_type, q.value) for q in queries]
    with session.begin():
        bank = bank_store.get_bank(session, name)
        found = hash_store.find_hashes(session, bank, keys)
        confirmed = hash_store.confirm_hashes(session, found) if body.decision == "confirm" else []
        feedback = feed_store.record_decisions(session, found, body.decision)
        audit.append(
            session,
            audit.key_actor(principal.name),
            f"hashes.{body.decision}",
            f"bank:{name}",
            {
                "count": len(found),
                "confirmed": len(confirmed),
                "digest": audit.digest(f"{s}:{v}" for s, v in keys),
            },
        )
    state.live.catalogue.confirm(np.array(confirmed, dtype=np.int64))
    present = {(r.signal_type, r.value) for r in found}
    return HashDecisionResult(
        found=len(found),
        confirmed=len(confirmed),
        feedback=feedback,
        not_found=[HashKey(signal_type=s, value=v) for s, v in keys if (s, v) not in present],
    )


@router.delete("/{name}/hashes/{signal_type}/{value}", response_model=HashRemoved)
def remove_hash(
    name: str,
    signal_type: str,
    value: str,
    state: StateDep,
    session: SessionDep,
    principal: BanksWriteKey,
) -> HashRemoved:
    """Remove a hash from a bank; it stops matching on the very next request."""
    (query,) = parse_items(state.registry, [Signal(signal_type, value)], pointer="/path")
    # Under the follower's lock: a catch-up that read the hash before the commit must
    # not put it back after it is removed here, until its next page reads the removal.
    with state.follower.applying:
        with session.begin():
            record = hash_store.remove_hash(
                session, bank_store.get_bank(session, name), signal_type, query.value
            )
            audit.append(
                session,
                audit.key_actor(principal.name),
                "hash.remove",
                f"bank:{name}",
                {"hash_id": record.id, "signal_type": signal_type, "value": record.value},
            )
        state.live.remove(signal_type, [record.id])
    return HashRemoved(
        id=record.id, signal_type=record.signal_type, value=record.value, status=record.status
    )


@router.post("/{name}/media", response_model=BankMediaResult, openapi_extra=MULTIPART_BODY)
async def add_media(
    name: str, request: Request, state: StateDep, session: SessionDep, principal: BanksWriteKey
) -> BankMediaResult:
    """Hash uploaded images and videos into the bank (every signal type); the media is
    discarded.

    Optional form fields `external_id` and `case_ref` apply to every file.
    """
    await run_in_threadpool(require_bank, state, name)
    upload = await read_media(request, state.settings)
    names = [f.filename for f in upload.files]
    files = [(f.filename, f.data) for f in upload.files]
    external_id = upload.fields.get("external_id")
    case_ref = upload.fields.get("case_ref")
    del upload
    hashed = await state.hasher.hash_files(files, parts=True)
    del files
    items, reports = [], []
    for filename, signals in zip(names, hashed, strict=True):
        report = BankMediaFile(filename=filename, hashes=[], skipped=[])
        for signal in signals:
            computed = ComputedHash(
                signal_type=signal.signal_type,
                value=signal.value,
                quality=signal.quality,
                parts=len(signal.parts) if signal.parts else None,
            )
            query = parse_signal(state.registry, signal)
            if query.degenerate:
                report.skipped.append(computed)
                continue
            report.hashes.append(computed)
            items.append(
                NewHash(
                    query.signal_type,
                    query.value,
                    signal.quality,
                    external_id,
                    case_ref,
                    query.frames,
                    signal.parts,
                )
            )
        reports.append(report)
    result = await run_in_threadpool(store_hashes, state, session, principal, name, items, "media")
    return BankMediaResult(
        added=result.added,
        reactivated=result.reactivated,
        updated=result.updated,
        unchanged=result.unchanged,
        files=reports,
    )
