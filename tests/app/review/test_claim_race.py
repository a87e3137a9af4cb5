"""Claims under contention on the real PostgreSQL: of many moderators claiming one item
at the same instant, exactly one wins."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import Engine

from app.db import make_session_factory
from app.models import ReviewItem, utcnow
from app.review import store

THREADS = 16
ROUNDS = 10


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_exactly_one_claim_wins(engine: Engine) -> None:
    sessions = make_session_factory(engine)
    now = utcnow()
    with sessions() as session, session.begin():
        items = [
            ReviewItem(content_id=f"c{n}", status="open", reason="near_match", verdict="review")
            for n in range(ROUNDS)
        ]
        session.add_all(items)
        session.flush()
        ids = [item.id for item in items]
    for item_id in ids:
        barrier = threading.Barrier(THREADS)
        won: list[str] = []

        def claim(
            name: str,
            item_id: int = item_id,
            barrier: threading.Barrier = barrier,
            won: list[str] = won,
        ) -> None:
            with sessions() as session, session.begin():
                store.get_item(session, item_id)
                barrier.wait()
                if store.claim(session, item_id, name, now, now + timedelta(minutes=10)):
                    won.append(name)

        threads = [threading.Thread(target=claim, args=(f"mod-{n}",)) for n in range(THREADS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(won) == 1
        with sessions() as session:
            assert store.get_item(session, item_id).claimed_by == won[0]
