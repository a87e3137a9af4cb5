"""RFC 9457 problem+json responses for every error the app raises (`app.errors`),
FastAPI's validation errors and Starlette's HTTP errors."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.errors import PROBLEM_JSON, HashwallError, InvalidInput, from_matcher_error
from matcher.errors import MatcherError

log = logging.getLogger(__name__)


def problem(
    status: int,
    title: str,
    detail: str,
    slug: str,
    instance: str,
    errors: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    """A problem+json response."""
    body: dict[str, Any] = {
        "type": f"/problems/{slug}",
        "title": title,
        "status": status,
        "detail": detail,
        "instance": instance,
    }
    if errors:
        body["errors"] = errors
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _pointer(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return "/" + "/".join(parts)


def _validation_error(error: dict[str, Any]) -> dict[str, Any]:
    """One of FastAPI's validation errors as a problem's `errors` entry. A body that is not
    JSON at all is located by its character `position`: its `loc` holds no JSON pointer."""
    loc = tuple(error.get("loc", ()))
    if error.get("type") == "json_invalid":
        position = next((p for p in loc if isinstance(p, int)), None)
        why = (error.get("ctx") or {}).get("error") or error.get("msg", "")
        at = f" at character {position}" if position is not None else ""
        entry: dict[str, Any] = {"pointer": "", "detail": f"malformed JSON{at}: {why}"}
        if position is not None:
            entry["position"] = position
        return entry
    return {"pointer": _pointer(loc), "detail": error.get("msg", "")}


def install_handlers(app: FastAPI) -> None:
    """Route every error the app can raise to a problem+json response."""

    @app.exception_handler(HashwallError)
    async def _hashwall(request: Request, exc: HashwallError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        return problem(
            exc.status, exc.title, exc.detail, exc.slug, request.url.path, exc.errors, headers
        )

    @app.exception_handler(MatcherError)
    async def _matcher(request: Request, exc: MatcherError) -> JSONResponse:
        return await _hashwall(request, from_matcher_error(exc))

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [_validation_error(e) for e in exc.errors()]
        if any(
            e.get("type") == "missing" and tuple(e.get("loc", ())) == ("body",)
            for e in exc.errors()
        ):
            detail = "request body is empty; a JSON body is required"
        else:
            detail = "; ".join(
                f"{e['pointer']}: {e['detail']}" if e["pointer"] else e["detail"]
                for e in errors[:5]
            )
        return problem(422, InvalidInput.title, detail, InvalidInput.slug, request.url.path, errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return problem(
            exc.status_code,
            str(exc.detail),
            str(exc.detail),
            "http",
            request.url.path,
            headers=dict(exc.headers or {}),
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", extra={"path": request.url.path})
        return problem(
            500, "Internal error", "an unexpected error occurred", "internal", request.url.path
        )
