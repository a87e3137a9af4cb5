"""/docs renders with every request but hashwall's own refused, as in an air-gapped
deployment: its assets are served from the package, not a CDN."""

from __future__ import annotations

from urllib.parse import urlparse

from playwright.sync_api import Page, Route, expect


def test_docs_render_with_the_network_blocked(page: Page, live_server: str) -> None:
    own = urlparse(live_server).netloc
    refused: list[str] = []

    def only_hashwall(route: Route) -> None:
        if urlparse(route.request.url).netloc == own:
            route.continue_()
        else:
            refused.append(route.request.url)
            route.abort()

    page.route("**/*", only_hashwall)
    page.goto(f"{live_server}/docs")
    expect(page.locator(".opblock-summary-path").first).to_be_visible()
    expect(page.get_by_text("/v1/match/media", exact=True)).to_be_visible()
    assert refused == []
    page.goto(f"{live_server}/redoc")
    expect(page).to_have_url(f"{live_server}/docs")
