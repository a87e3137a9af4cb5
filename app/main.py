"""The FastAPI application: `create_app(settings)`; the lifespan builds the state.

Nothing connects or loads at import time; `hashwall serve` and the tests call
`create_app` with the settings they want.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.concurrency import run_in_threadpool
from sqlalchemy.orm import Session, sessionmaker

from app.auth import KeyCache
from app.body_limit import BodyLimitMiddleware
from app.config import Settings
from app.db import make_engine, make_session_factory
from app.hashing import MediaHasher
from app.ledger import hits
from app.live_index import PERCEPTUAL_INDEXES, LiveIndex
from app.logs import configure_logging
from app.metrics import Metrics, MetricsMiddleware
from app.migrate import check_schema
from app.models import SweepState
from app.problems import install_handlers
from app.replica import ChangeFollower, restore_index
from app.review.intake import FloodRule
from app.routes import (
    audit,
    banks,
    feeds,
    health,
    ledger,
    matching,
    reviews,
    sweeps,
    webhooks,
)
from app.routes.docs import add_docs
from app.state import AppState
from app.ui.routes import ui_routes
from app.ui.session import Sessions
from app.verdict_log import VerdictRecorder
from matcher.signals import default_registry

log = logging.getLogger(__name__)

DESCRIPTION = """
hashwall answers **block**, **review** or **allow** for hashes or media an upload
pipeline sends, by looking them up in an in-memory index of reported fingerprints.

Every `/v1` route needs `Authorization: Bearer <key>`. Errors are
`application/problem+json` (RFC 9457).
"""


def sweep_state(sessions: sessionmaker[Session]) -> SweepState | None:
    """The takedown sweep's state row, if the sweep has run."""
    with sessions() as session:
        return session.get(SweepState, hits.STATE_ID)


def build_state(settings: Settings, metrics: Metrics) -> AppState:
    """Open the database and create an empty live index."""
    engine = make_engine(settings.database_url)
    sessions = make_session_factory(engine)
    registry = default_registry()
    live = LiveIndex(registry, PERCEPTUAL_INDEXES[settings.index_backend])
    follower = ChangeFollower(engine, sessions, live, settings.sync_interval)
    metrics.watch_index(live.sizes)
    metrics.watch_lag(follower.lag)
    metrics.watch_sweep(lambda: sweep_state(sessions))
    return AppState(
        settings=settings,
        engine=engine,
        sessions=sessions,
        registry=registry,
        live=live,
        recorder=VerdictRecorder(
            sessions,
            settings.verdict_log,
            review_queue=settings.review_queue,
            flood=FloodRule(settings.quarantine_floor, settings.quarantine_multiple)
            if settings.quarantine
            else None,
            on_write=metrics.wrote,
        ),
        metrics=metrics,
        hasher=MediaHasher(
            registry, settings.limits, settings.hash_processes, settings.hash_concurrency
        ),
        follower=follower,
        keys=KeyCache(settings.key_cache_seconds),
    )


def load_index(state: AppState) -> None:
    """Check the schema, then restore the live index and catch up with the change log."""
    check_schema(state.engine)
    restore_index(state.settings, state.sessions, state.live, state.follower)


def app_from_environment() -> FastAPI:
    """The app with settings and logging from the environment (`uvicorn --factory`, and
    each worker of `hashwall serve --workers`)."""
    settings = Settings()
    configure_logging(settings.log_level, settings.log_json)
    return create_app(settings)


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app for `settings` (from the environment when omitted)."""
    settings = settings or Settings()
    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if settings.index_backend == "flat":
            # One OpenMP thread per search: requests already run in parallel, and faiss's
            # threads on single queries made lookups several times slower (measured in HMA).
            import faiss

            faiss.omp_set_num_threads(settings.faiss_threads)
        state = build_state(settings, metrics)
        app.state.hashwall = state
        await run_in_threadpool(load_index, state)
        await run_in_threadpool(state.hasher.start)
        state.recorder.start()
        state.follower.start()
        try:
            yield
        finally:
            state.follower.stop()
            state.recorder.stop()
            state.hasher.close()
            state.engine.dispose()

    app = FastAPI(
        title="hashwall",
        version="0.1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    install_handlers(app)
    add_docs(app)
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_json_bytes)
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    app.include_router(matching.router)
    app.include_router(banks.router)
    app.include_router(feeds.router)
    app.include_router(reviews.router)
    app.include_router(webhooks.router)
    app.include_router(audit.router)
    app.include_router(ledger.router)
    app.include_router(sweeps.router)
    app.include_router(health.router)
    app.state.ui_sessions = Sessions(settings.session_secret)
    app.router.routes.extend(ui_routes())
    return app
