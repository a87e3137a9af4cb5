"""UI fixtures: a real hashwall server on a free port and Debian's chromium, headless,
driven by Playwright. A missing browser fails the tests; it never skips them."""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from playwright.sync_api import Browser, Page, expect, sync_playwright
from sqlalchemy import Engine

from app.config import Settings
from app.main import create_app

CHROMIUM = os.environ.get("HASHWALL_TEST_CHROMIUM") or shutil.which("chromium") or ""
# A loaded 2-core machine (CI runs the benchmarks' smoke after the tests) can take more
# than Playwright's 5 s default to answer a lookup.
expect.set_options(timeout=15_000)
#: Where the UI tests leave their screenshots.
ARTIFACTS = Path(os.environ.get("HASHWALL_TEST_ARTIFACTS", "test-artifacts"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def live_server(settings: Settings, engine: Engine, keys: dict[str, str]) -> Iterator[str]:
    """The app served by uvicorn in a thread; yields its base URL."""
    port = free_port()
    ui_settings = settings.model_copy(
        update={"content_url_template": "https://mod.example/content/{content_id}"}
    )
    server = uvicorn.Server(
        uvicorn.Config(create_app(ui_settings), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while True:
        try:
            if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.1)
    yield base
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not CHROMIUM:
        pytest.fail(
            "chromium is not installed: `make test` installs it (apt-get install chromium); "
            "or point HASHWALL_TEST_CHROMIUM at a Chromium binary"
        )
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield launched
        launched.close()


@pytest.fixture
def console_errors() -> list[str]:
    """Console errors of the test's page; a test expecting some removes them."""
    return []


@pytest.fixture
def page(browser: Browser, console_errors: list[str]) -> Iterator[Page]:
    """A fresh page at 1280 px, failing the test on any console error."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    opened = context.new_page()
    errors = console_errors
    opened.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    opened.on("pageerror", lambda e: errors.append(str(e)))
    yield opened
    context.close()
    assert errors == []


def screenshot(page: Page, name: str) -> Path:
    """Save the whole page as a test artifact."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
