"""A ready demo: schema, a block bank of sample hashes, and a key to try it with.

The sample hashes are pdq hashes of synthetic images drawn here, so the demo needs no
files and holds nothing anyone reported.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import cv2
import numpy as np
from sqlalchemy import func, select

from app.auth import SCOPES, create_key, list_keys, revoke_key
from app.config import Settings
from app.db import describe_url, make_engine, make_session_factory
from app.migrate import upgrade
from app.models import Bank, HashRecord
from app.policy import Action
from app.store.banks import create_bank
from app.store.hashes import NewHash, add_hashes
from matcher.pdq import PDQ, pdq_from_rgb
from matcher.signals import default_registry

DEMO_BANK = "demo"
#: Keys the demo makes are named this and a timestamp; a new demo revokes the old ones.
DEMO_KEY_PREFIX = "demo-"
SAMPLES = 8


def sample_image(seed: int, size: tuple[int, int] = (480, 640)) -> np.ndarray:
    """A deterministic photo-like RGB image: smooth colour fields with texture."""
    rng = np.random.default_rng(seed)
    height, width = size
    low = rng.random((6, 8, 3)).astype(np.float32)
    image = cv2.resize(low, (width, height), interpolation=cv2.INTER_CUBIC)
    texture = cv2.GaussianBlur(rng.random((height, width, 3)).astype(np.float32), (0, 0), 3)
    return np.clip((0.8 * image + 0.6 * (texture - 0.5)) * 255, 0, 255).astype(np.uint8)


def set_up_demo(settings: Settings) -> str:
    """Migrate, create the demo bank (once) and a fresh demo key, revoking the keys earlier
    demos made (one live demo key, not one more a run); return instructions."""
    engine = make_engine(settings.database_url)
    try:
        upgrade(engine)
        registry = default_registry()
        with make_session_factory(engine)() as session, session.begin():
            bank = session.scalar(select(Bank).where(Bank.name == DEMO_BANK))
            if bank is None:
                # Its blocks are queued too, so the demo's lookup shows in the review queue.
                bank = create_bank(
                    session,
                    registry,
                    DEMO_BANK,
                    Action.BLOCK,
                    description="Demo hashes",
                    queue_blocks=True,
                )
            values = []
            for seed in range(SAMPLES):
                code, quality = pdq_from_rgb(sample_image(seed))
                values.append(NewHash("pdq", PDQ().format(code), quality, f"demo-{seed}"))
            add_hashes(session, bank, values, "demo")
            earlier = [
                k.name
                for k in list_keys(session)
                if k.name.startswith(DEMO_KEY_PREFIX) and k.revoked_at is None
            ]
            for old in earlier:
                revoke_key(session, old, actor="demo")
            name = DEMO_KEY_PREFIX + datetime.now(UTC).strftime("%Y%m%d%H%M%S%f")
            key = create_key(session, name, sorted(SCOPES), actor="demo")
            held = session.scalar(
                select(func.count())
                .select_from(HashRecord)
                .where(HashRecord.bank_id == bank.id, HashRecord.status == "active")
            )
    finally:
        engine.dispose()
    item = {"signal_type": "pdq", "value": values[0].value, "content_id": "demo-upload-1"}
    body = json.dumps({"items": [item]})
    return (
        f"Demo ready on {describe_url(settings.database_url)}\n"
        f"  bank '{DEMO_BANK}' (block) holds {held} hashes\n"
        f"  API key (all scopes, shown once): {key}\n"
        + (f"  the {len(earlier)} key(s) earlier demos made are revoked\n" if earlier else "")
        + "\n"
        "Try it once the server is up:\n"
        f"  curl -s -H 'Authorization: Bearer {key}' -H 'Content-Type: application/json' \\\n"
        f"       -d '{body}' http://127.0.0.1:8000/v1/match\n\n"
        "Then review it in the moderation UI: http://127.0.0.1:8000/ui/ (log in with the key)\n"
    )
