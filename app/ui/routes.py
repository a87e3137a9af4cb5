"""The UI's routes, mounted at /ui by `app.main.create_app`."""

from __future__ import annotations

from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from app.ui.base import HERE
from app.ui.views import admin, banks, home, reviews


def ui_routes() -> list[BaseRoute]:
    """Every page and form target, and the static files."""
    return [
        Mount(
            "/ui",
            routes=[
                Route("/", home.overview, name="ui-overview"),
                Route("/login", home.login_page, methods=["GET"]),
                Route("/login", home.log_in, methods=["POST"]),
                Route("/logout", home.log_out, methods=["POST"]),
                Route("/reviews", reviews.queue),
                Route("/reviews/{item_id:int}/claim", reviews.claim, methods=["POST"]),
                Route("/reviews/{item_id:int}/release", reviews.release, methods=["POST"]),
                Route("/reviews/{item_id:int}/decision", reviews.decide, methods=["POST"]),
                Route("/banks", banks.banks, methods=["GET"]),
                Route("/banks", banks.create_bank, methods=["POST"]),
                Route("/banks/{name}", banks.update_bank, methods=["POST"]),
                Route("/banks/{name}/hashes", banks.add_hash, methods=["POST"]),
                Route("/lookup", banks.lookup_page, methods=["GET"]),
                Route("/lookup", banks.lookup_hash, methods=["POST"]),
                Route("/lookup/media", banks.lookup_media, methods=["POST"]),
                Route("/feeds", admin.feeds),
                Route("/webhooks", admin.webhooks, methods=["GET"]),
                Route("/webhooks", admin.create_webhook, methods=["POST"]),
                Route("/webhooks/{webhook_id}/delete", admin.delete_webhook, methods=["POST"]),
                Route("/audit", admin.audit_page),
                Mount("/static", StaticFiles(directory=HERE / "static"), name="ui-static"),
            ],
        )
    ]
