"""One settings object, read from `HASHWALL_*` environment variables (and `.env`)."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from app.cpus import usable_cpus
from matcher.limits import Limits


def normalise_database_url(url: str) -> str:
    """Let a plain `postgresql://` URL work whatever driver hashwall uses (psycopg 3)."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


class Settings(BaseSettings):
    """Everything an operator can configure. Invalid values fail at start-up."""

    model_config = SettingsConfigDict(env_prefix="HASHWALL_", env_file=".env", extra="ignore")

    database_url: str = Field(
        default="sqlite:///hashwall.db",
        description="SQLAlchemy URL; a SQLite file in the working directory by default.",
    )
    max_upload_bytes: int = Field(default=50 * 1024 * 1024, gt=0)
    max_image_pixels: int = Field(default=64_000_000, gt=0)
    max_video_seconds: float = Field(
        default=600.0, gt=0, description="Longest video hashed; longer ones are refused."
    )
    max_video_frames: int = Field(
        default=36_000, gt=0, description="Most frames decoded from one video (bounds time)."
    )
    max_json_bytes: int = Field(
        default=8 * 1024 * 1024, gt=0, description="Largest non-multipart request body."
    )
    max_files_per_request: int = Field(default=20, gt=0)
    max_batch_items: int = Field(default=1000, gt=0)
    hash_concurrency: int = Field(
        default_factory=usable_cpus,
        ge=1,
        description="Uploads decoded and hashed at once (bounds memory); one per CPU the "
        "process may use (its affinity and cgroup quota).",
    )
    hash_processes: int = Field(
        default_factory=usable_cpus,
        ge=0,
        description="Processes that hash media in each server process (candidates cost "
        "Python work), one per CPU the process may use by default (its affinity and "
        "cgroup quota, not the host's count); 0: threads.",
    )
    index_backend: Literal["mih", "flat"] = Field(
        default="mih",
        description="pdq/phash index: multi-index hashing, or a faiss flat scan (exact both).",
    )
    snapshot_dir: Path | None = Field(
        default=None,
        description="Where `hashwall index snapshot` writes index snapshots and servers "
        "start from the newest (none: servers load from the database).",
    )
    workers: int = Field(
        default=1,
        ge=1,
        description="Processes `hashwall serve` starts, each with its own index.",
    )
    sync_interval: float = Field(
        default=0.25,
        gt=0,
        le=60,
        description="Seconds between polls of the change log (PostgreSQL also wakes on NOTIFY).",
    )
    faiss_threads: int = Field(
        default=1,
        ge=1,
        description="OpenMP threads per faiss search; requests already run in parallel.",
    )
    secrets_file: Path | None = Field(
        default=None,
        description="A file of NAME=value lines holding feed credentials (see Feeds); "
        "the environment wins over it.",
    )
    feed_timeout: float = Field(
        default=30.0, gt=0, description="Seconds before a feed request times out (retried)."
    )
    key_cache_seconds: float = Field(
        default=1.0,
        ge=0,
        le=60,
        description="Seconds a server trusts a key it has checked: a key revoked elsewhere "
        "is refused within this time in every server; 0 checks the database on every request.",
    )
    verdict_log: Literal["all", "matches", "off"] = Field(
        default="matches",
        description="Which verdicts are written to the verdict log.",
    )
    review_queue: bool = Field(
        default=True,
        description="Open a review queue item for each review verdict on named content.",
    )
    review_lease_seconds: int = Field(
        default=600, gt=0, le=86_400, description="How long a moderator's claim on an item lasts."
    )
    content_url_template: str = Field(
        default="",
        description="A link to the platform's own moderation tool for a content id, with "
        "`{content_id}` in it (e.g. `https://mod.example/content/{content_id}`); none if empty.",
    )
    quarantine: bool = Field(
        default=True,
        description="Count matches per hash and quarantine hashes that flood (review only).",
    )
    quarantine_floor: int = Field(
        default=50, ge=1, description="Matches in the last hour a hash must exceed to flood."
    )
    quarantine_multiple: float = Field(
        default=20.0, gt=1, description="Times its hourly baseline a hash must exceed to flood."
    )
    verdict_log_retention_days: int = Field(
        default=90, ge=1, description="Days the verdict log is kept (the worker purges older)."
    )
    review_retention_days: int = Field(
        default=90, ge=1, description="Days decided review items are kept."
    )
    ledger_days: int = Field(
        default=0,
        ge=0,
        description="Days the content ledger keeps the hashes of uploads that name a "
        "content id, so that a hash arriving later finds them (the takedown sweep); "
        "0 turns the ledger off.",
    )
    webhook_timeout: float = Field(
        default=10.0,
        gt=0,
        le=300,
        description="Seconds a webhook endpoint has to answer one delivery (then retried).",
    )
    session_secret: str = Field(
        default="",
        description="Signs UI session cookies; set it when several servers share sessions "
        "(empty: a random secret per process).",
    )
    log_level: str = "INFO"
    log_json: bool | None = Field(
        default=None,
        description="JSON log lines (true) or lines for people with the same fields as "
        "key=value (false); unset: lines for people when stderr is a terminal, JSON "
        "otherwise.",
    )

    @field_validator("database_url")
    @classmethod
    def _normalise_url(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("database_url must not be empty")
        return normalise_database_url(value.strip())

    @field_validator("content_url_template")
    @classmethod
    def _check_template(cls, value: str) -> str:
        if value and "{content_id}" not in value:
            raise ValueError("content_url_template must contain {content_id}")
        if value and not value.startswith(("https://", "http://")):
            raise ValueError("content_url_template must be an http(s) URL")
        return value

    @cached_property
    def limits(self) -> Limits:
        """The media limits the matcher enforces."""
        return Limits(
            max_bytes=self.max_upload_bytes,
            max_pixels=self.max_image_pixels,
            max_video_seconds=self.max_video_seconds,
            max_video_frames=self.max_video_frames,
        )
