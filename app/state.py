"""What the app's lifespan builds and its routes use: one object, no module globals."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from app.auth import KeyCache
from app.config import Settings
from app.hashing import MediaHasher
from app.live_index import LiveIndex
from app.metrics import Metrics
from app.replica import ChangeFollower
from app.verdict_log import VerdictRecorder
from matcher.signals import Registry


@dataclass(slots=True)
class AppState:
    """Settings, database, live index and the follower keeping it in step, verdict
    recorder, metrics and the keys lately accepted of one process."""

    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    registry: Registry
    live: LiveIndex
    recorder: VerdictRecorder
    metrics: Metrics
    hasher: MediaHasher
    follower: ChangeFollower
    keys: KeyCache
