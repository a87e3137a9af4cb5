"""compose.yaml is the deployment platforms copy (Docker cannot run here, so its shape is
checked): migrations once before the servers, restart policies, a data volume, secrets
from an env file and never inline, the API on the loopback only."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).parent.parent
COMPOSE = yaml.safe_load((ROOT / "compose.yaml").read_text())
SERVICES = COMPOSE["services"]
HASHWALL = ("hashwall", "worker", "snapshots")


def test_migrations_run_once_before_every_hashwall_process() -> None:
    assert SERVICES["migrate"]["command"] == ["hashwall", "db", "upgrade"]
    assert SERVICES["migrate"]["restart"] == "no"
    for name in HASHWALL:
        assert SERVICES[name]["depends_on"]["migrate"]["condition"] == (
            "service_completed_successfully"
        )


def test_each_long_running_service_restarts_and_keeps_its_data() -> None:
    for name in (*HASHWALL, "postgres"):
        assert SERVICES[name]["restart"] == "unless-stopped", name
    for name in HASHWALL:
        assert "hashwall-data:/data" in SERVICES[name]["volumes"]
    assert {"pgdata", "hashwall-data"} <= set(COMPOSE["volumes"])


def test_the_worker_and_the_snapshot_writer_are_services() -> None:
    assert SERVICES["worker"]["command"] == ["hashwall", "worker"]
    assert SERVICES["snapshots"]["command"][:3] == ["hashwall", "index", "snapshot"]


def test_secrets_come_from_the_env_file_and_its_example_documents_them() -> None:
    text = (ROOT / "compose.yaml").read_text()
    assert not re.search(r"PASSWORD\s*:", text) and "postgresql://" not in text
    for name, service in SERVICES.items():
        assert service.get("env_file") == "hashwall.env", name
    example = (ROOT / "hashwall.env.example").read_text()
    for needed in ("POSTGRES_PASSWORD=", "HASHWALL_DATABASE_URL=", "HASHWALL_SESSION_SECRET="):
        assert needed in example
    assert "hashwall.env" in (ROOT / ".gitignore").read_text().split()


def test_the_api_listens_on_the_loopback_only() -> None:
    assert SERVICES["hashwall"]["ports"] == ["127.0.0.1:8000:8000"]
