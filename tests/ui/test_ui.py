"""The moderation UI in real headless Chromium: log in, banks, lookups, the review queue
with its keyboard shortcuts, webhooks delivered and the audit trail, at 1280 and 390 px."""

from __future__ import annotations

import re

import httpx
from playwright.sync_api import Page, expect
from sqlalchemy import Engine

from app.db import make_session_factory
from app.webhooks.delivery import send_due
from tests.conftest import bearer
from tests.factories import flip_bits, photo, random_pdq
from tests.ui.conftest import screenshot
from tests.webhookserver import webhook_receiver


def log_in(page: Page, base: str, key: str) -> None:
    page.goto(f"{base}/ui/reviews")
    expect(page).to_have_url(re.compile(r"/ui/login"))
    page.get_by_label("API key").fill(key)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(re.compile(r"/ui/reviews"))


def test_log_in_create_a_bank_add_a_hash_look_it_up(
    page: Page, live_server: str, keys: dict[str, str]
) -> None:
    log_in(page, live_server, keys["admin"])
    page.get_by_role("link", name="Banks").click()
    page.get_by_label("Name").fill("ncii")
    page.get_by_label("Action").select_option("block")
    page.get_by_label("Description").fill("reported by victims")
    page.get_by_role("button", name="Create bank").click()
    expect(page.get_by_role("status")).to_have_text("Bank ncii created.")
    stored = random_pdq(11)
    page.locator("#value-ncii").fill(stored)
    page.get_by_role("button", name="Add hash to ncii").click()
    expect(page.get_by_role("status")).to_have_text("Hash added in ncii.")
    expect(page.get_by_role("row", name=re.compile("ncii"))).to_contain_text("1")
    page.get_by_role("link", name="Lookup").click()
    # The banks page has fields labelled "Hash" too: wait for the lookup page first.
    expect(page.get_by_role("heading", name="Lookup", exact=True)).to_be_visible()
    page.get_by_label("Hash", exact=True).fill(flip_bits(stored, 20))
    page.get_by_role("button", name="Look up", exact=True).click()
    result = page.locator("section.result")
    expect(result).to_contain_text("block")
    expect(result.get_by_role("row", name=re.compile("ncii"))).to_contain_text("20")
    screenshot(page, "lookup-1280")
    # A dropped picture is hashed in memory and looked up.
    page.get_by_label("File").set_input_files(
        {"name": "upload.jpg", "mimeType": "image/jpeg", "buffer": photo(4)}
    )
    page.get_by_role("button", name="Hash and look up").click()
    expect(page.locator("section.result")).to_contain_text("upload.jpg")
    expect(page.locator("ul.hashes")).to_contain_text("pdq")
    expect(page.locator("section.result")).to_contain_text("No match.")


def test_a_review_is_claimed_decided_delivered_and_audited(
    page: Page, live_server: str, keys: dict[str, str], engine: Engine
) -> None:
    admin, reviewer = bearer(keys["admin"]), keys["review"]
    stored = random_pdq(21)
    with webhook_receiver() as receiver, httpx.Client(base_url=live_server) as api:
        assert api.post("/v1/banks", json={"name": "ncii", "action": "block"}, headers=admin)
        assert api.post(
            "/v1/banks/ncii/hashes",
            json={"items": [{"signal_type": "pdq", "value": stored}]},
            headers=admin,
        ).is_success
        hook = api.post(
            "/v1/webhooks", json={"url": receiver.url, "events": ["review.decided"]}, headers=admin
        )
        assert hook.status_code == 201
        near = flip_bits(stored, 40)
        verdict = api.post(
            "/v1/match",
            json={"items": [{"signal_type": "pdq", "value": near, "content_id": "post-77"}]},
            headers=bearer(keys["match"]),
        ).json()["results"][0]
        assert verdict["verdict"] == "review"

        log_in(page, live_server, reviewer)
        item = page.locator("article.item", has_text="post-77")
        # The queue is written within a second of the lookup.
        for _ in range(20):
            if item.count():
                break
            page.wait_for_timeout(250)
            page.reload()
        expect(item).to_contain_text("near_match")
        link = item.get_by_role("link", name=re.compile("moderation tool"))
        expect(link).to_have_attribute("href", "https://mod.example/content/post-77")
        screenshot(page, "reviews-1280")
        # Keyboard: focus the item, `c` claims it.
        item.focus()
        page.keyboard.press("c")
        expect(page.get_by_role("status")).to_contain_text("is yours")
        item = page.locator("article.item", has_text="post-77")
        expect(item).to_contain_text("Claimed by key-review")
        item.get_by_label("Note").fill("confirmed by the reporter")
        item.get_by_role("button", name="Confirm: block").click()
        expect(page.get_by_role("status")).to_contain_text("confirmed")
        # Delivered by the worker's duty, and shown as such.
        with httpx.Client(timeout=5) as http:
            assert send_due(make_session_factory(engine), http).delivered == 1
        assert receiver.received and b'"decision":"confirm"' in receiver.received[0].body

    page.get_by_role("button", name="Log out").click()
    expect(page).to_have_url(re.compile(r"/ui/login"))
    log_in(page, live_server, keys["admin"])
    page.get_by_role("link", name="Webhooks").click()
    row = page.locator("tr", has_text=receiver.url)
    expect(row).to_contain_text("review.decided")
    expect(row.locator("td").nth(2)).to_have_text("0")  # nothing pending
    expect(row.locator("td").nth(3)).not_to_have_text("never")
    page.get_by_role("link", name="Audit").click()
    page.get_by_label("Action").fill("review.confirm")
    page.get_by_role("button", name="Filter").click()
    audit_row = page.get_by_role("row", name=re.compile("review.confirm"))
    expect(audit_row).to_contain_text("key:key-review")
    expect(audit_row).to_contain_text("confirmed by the reporter")
    screenshot(page, "audit-1280")


def test_sessions_are_guarded(
    page: Page, live_server: str, keys: dict[str, str], console_errors: list[str]
) -> None:
    page.goto(f"{live_server}/ui/login")
    page.get_by_label("API key").fill(keys["match"])
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("alert")).to_contain_text("neither the review nor the admin scope")
    page.get_by_label("API key").fill("hw_not-a-key")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("alert")).to_contain_text("invalid API key")
    # Both refusals answered 4xx, as they should; the browser logs each.
    assert len(console_errors) == 2 and all("40" in e for e in console_errors)
    console_errors.clear()
    log_in(page, live_server, keys["review"])
    (cookie,) = page.context.cookies()
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and cookie["path"] == "/ui"
    assert keys["review"] not in cookie["value"]
    # A form posted without the session's CSRF token is refused.
    forged = page.request.post(
        f"{live_server}/ui/banks", form={"name": "x", "action": "block"}, max_redirects=0
    )
    assert forged.status == 403
    # The review scope reads banks but cannot change them, nor see webhooks or audit.
    assert page.request.get(f"{live_server}/ui/webhooks").status == 403
    page.goto(f"{live_server}/ui/banks")
    expect(page.get_by_role("button", name="Create bank")).to_have_count(0)
    page.get_by_role("button", name="Log out").click()
    expect(page).to_have_url(re.compile(r"/ui/login"))
    page.goto(f"{live_server}/ui/")
    expect(page).to_have_url(re.compile(r"/ui/login"))


def test_every_page_fits_a_phone(page: Page, live_server: str, keys: dict[str, str]) -> None:
    with httpx.Client(base_url=live_server) as api:
        admin = bearer(keys["admin"])
        api.post("/v1/banks", json={"name": "ncii", "action": "review"}, headers=admin)
        api.post(
            "/v1/banks/ncii/hashes",
            json={"items": [{"signal_type": "pdq", "value": random_pdq(3)}]},
            headers=admin,
        )
        api.post(
            "/v1/match",
            json={"items": [{"signal_type": "pdq", "value": random_pdq(3), "content_id": "p-1"}]},
            headers=bearer(keys["match"]),
        )
    page.set_viewport_size({"width": 390, "height": 844})
    log_in(page, live_server, keys["admin"])
    for name in ("", "reviews", "banks", "lookup", "feeds", "webhooks", "audit"):
        page.goto(f"{live_server}/ui/{name}")
        expect(page.locator("h1")).to_be_visible()
        # Wide tables scroll inside their box; the page itself never scrolls sideways.
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, (name, width)
        # Every form control has a label.
        unlabelled = page.evaluate(
            """[...document.querySelectorAll('input:not([type=hidden]), select, textarea')]
                .filter(e => !e.labels || e.labels.length === 0).map(e => e.name)"""
        )
        assert unlabelled == [], (name, unlabelled)
    page.goto(f"{live_server}/ui/reviews?status=all")
    page.locator("article.item").first.wait_for()
    screenshot(page, "reviews-390")
    # The first Tab reaches the skip link, which leads to the content.
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Skip to content")).to_be_focused()


def test_the_overview_shows_the_sweep(
    page: Page, live_server: str, keys: dict[str, str], engine: Engine
) -> None:
    from app.ledger import hits as sweep_hits

    log_in(page, live_server, keys["admin"])
    page.goto(f"{live_server}/ui/")
    expect(page.locator("#sweep")).to_contain_text("HASHWALL_LEDGER_DAYS")
    with make_session_factory(engine)() as session, session.begin():
        state = sweep_hits.state(session)
        state.hashes_swept, state.contents_found, state.last_sweep_seconds = 10_000, 1_000, 2.5
        from app.models import utcnow

        state.last_sweep_at = utcnow()
    page.reload()
    card = page.locator("#sweep")
    expect(card).to_contain_text("1,000")
    expect(card).to_contain_text("10,000 hashes swept")
    expect(card).to_contain_text("2.50 s")
