"""The API's documentation pages, served with no network beyond hashwall itself.

FastAPI's own /docs and /redoc load Swagger UI, ReDoc and Google Fonts from CDNs, so in
an air-gapped deployment (where NCII tooling often runs) they render blank. Swagger UI's
files come from the `fastapi-offline` package instead (Swagger UI 5, which reads the
OpenAPI 3.1 FastAPI writes; `swagger-ui-bundle` ships 4, which cannot), with hashwall's
own routes around them.
"""

from __future__ import annotations

from pathlib import Path

import fastapi_offline
from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.staticfiles import StaticFiles

ASSETS = "/docs/assets"
FILES = Path(fastapi_offline.__file__).parent / "static"


def add_docs(app: FastAPI) -> None:
    """/docs (Swagger UI) from packaged files, and /redoc leading there."""
    app.mount(ASSETS, StaticFiles(directory=FILES), name="docs-assets")
    openapi_url = app.openapi_url or "/openapi.json"
    title = f"{app.title}: API"

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=openapi_url,
            title=title,
            swagger_js_url=f"{ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS}/favicon.png",
            oauth2_redirect_url="/docs/oauth2-redirect",
        )

    @app.get("/docs/oauth2-redirect", include_in_schema=False)
    async def oauth2_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    @app.get("/redoc", include_in_schema=False)
    async def redoc() -> RedirectResponse:
        # ReDoc loads its badge from cdn.redoc.ly whatever it is told: /docs instead.
        return RedirectResponse("/docs")
