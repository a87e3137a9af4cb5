"""What the app's lifespan builds and its routes use: one object, no module globals."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from app.config import Settings
from app.live_index import LiveIndex
from app.metrics import Metrics
from app.verdict_log import VerdictRecorder
from matcher.signals import Registry


@dataclass(slots=True)
class AppState:
    """Settings, database, live index, verdict recorder and metrics of one process."""

    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    registry: Registry
    live: LiveIndex
    recorder: VerdictRecorder
    metrics: Metrics
    #: Bounds how many uploads are decoded at once, and so the memory media can take.
    media_slots: asyncio.Semaphore
