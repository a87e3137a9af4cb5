"""Review items as the API and the UI show them, with the context a moderator needs:
how often each matched hash matched in the last 24 hours across all content, its bank,
source and confirmation, the trust of the feed it came from, other platforms' feedback
on it (StopNCII sends it), its quarantine state, and a link to the platform's own tool
for the content. Never the content itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import Feed, HashRecord, Quarantine, ReviewDecision, ReviewItem
from app.review import flood
from app.review.store import decisions_of, leased, shown_status
from app.store.feeds import peer_feedback, source_of

DAY = timedelta(hours=24)


def content_url(template: str, content_id: str | None) -> str | None:
    """The platform's link for a content id, from `HASHWALL_CONTENT_URL_TEMPLATE`."""
    if not template or content_id is None:
        return None
    return template.replace("{content_id}", quote(content_id, safe=""))


def hash_context(session: Session, hash_ids: Sequence[int], now: datetime) -> dict[int, Any]:
    """Per stored hash: matches in the last 24 h, source, confirmation, feed trust and
    quarantine state."""
    ids = sorted(set(hash_ids))
    if not ids:
        return {}
    counts = flood.matches_since(session, ids, now - DAY)
    records = session.execute(
        select(HashRecord.id, HashRecord.source, HashRecord.confirmed, HashRecord.status).where(
            HashRecord.id.in_(ids)
        )
    ).all()
    feeds = {source_of(f.name): f for f in session.scalars(select(Feed))}
    peers = peer_feedback(session, ids)
    held = dict(
        session.execute(
            select(Quarantine.hash_id, Quarantine.state).where(Quarantine.hash_id.in_(ids))
        ).all()
    )
    found: dict[int, Any] = {}
    for hash_id, source, confirmed, status in records:
        feed = feeds.get(source)
        found[hash_id] = {
            "matches_24h": counts.get(hash_id, 0),
            "source": source,
            "status": status,
            "confirmed": confirmed,
            "feed": feed.name if feed else None,
            "feed_kind": feed.kind if feed else None,
            "feed_trust": feed.trust if feed else None,
            "quarantine": held.get(hash_id),
            "peer_feedback": peers.get(hash_id),
        }
    return found


def decision_view(row: ReviewDecision) -> dict[str, Any]:
    """One decision on an item."""
    return {
        "decision": row.decision,
        "verdict": row.verdict,
        "by": row.key_name,
        "at": row.created_at.isoformat(),
        "note": row.note,
        "add_to_bank": row.bank,
        "added": row.added,
    }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def item_views(
    session: Session, items: Sequence[ReviewItem], now: datetime, url_template: str
) -> list[dict[str, Any]]:
    """Items with their decisions and matched hashes' context."""
    history = decisions_of(session, [i.id for i in items])
    context = hash_context(session, [m["hash_id"] for i in items for m in i.matches], now)
    views = []
    for item in items:
        decisions = history.get(item.id, [])
        final = next((d for d in reversed(decisions) if d.decision == item.decision), None)
        held = leased(item, now)
        views.append(
            {
                "id": item.id,
                "kind": item.kind,
                "content_id": item.content_id,
                "content_url": content_url(url_template, item.content_id),
                "hash_id": item.hash_id,
                "status": shown_status(item, now),
                "escalated": item.status == "escalated"
                or any(d.decision == "escalate" for d in decisions),
                "reason": item.reason,
                "verdict": item.verdict,
                "bank": item.bank,
                "requested_by": item.key_name,
                "first_seen": item.first_seen.isoformat(),
                "last_seen": item.last_seen.isoformat(),
                "sightings": item.sightings,
                "matches": [m | {"context": context.get(m["hash_id"])} for m in item.matches],
                "upload_hashes": len(item.upload_hashes or []),
                "claimed_by": item.claimed_by if held else None,
                "lease_until": _iso(item.lease_until) if held else None,
                "decision": decision_view(final) if final and item.status == "decided" else None,
                "history": [decision_view(d) for d in decisions],
            }
        )
    return views
