"""Errors as RFC 9457 problem details, in one JSON shape for every failure."""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from arverne.errors import (
    AuthenticationError,
    ConflictError,
    ForbiddenError,
    InvalidInputError,
    NotFoundError,
)

logger = logging.getLogger("arverne.web")
PROBLEM_JSON = "application/problem+json"
PROBLEM_BASE = "urn:arverne:problem:"


def problem(
    request: Request,
    status: int,
    *,
    detail: str,
    kind: str | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    """Build a problem-details response.

    Parameters
    ----------
    request
        The request that failed (its id and path go into the body).
    status
        HTTP status code.
    detail
        Plain-language explanation of what went wrong and how to fix it.
    kind
        Short slug naming the problem type; ``None`` means ``about:blank``.
    """
    body: dict[str, Any] = {
        "type": PROBLEM_BASE + kind if kind else "about:blank",
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        "instance": request.url.path,
    }
    request_id = getattr(request.state, "request_id", None)
    if request_id:
        body["request_id"] = request_id
    body.update(extra)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _field_name(loc: tuple[Any, ...] | list[Any]) -> str:
    return ".".join(str(part) for part in loc)


async def _validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {
            "field": _field_name(err.get("loc", ())),
            "message": err.get("msg", ""),
            "type": err.get("type", ""),
        }
        for err in exc.errors()
    ]
    names = ", ".join(f"{e['field']} ({e['message']})" for e in errors)
    return problem(
        request, 422, kind="validation-error", detail=f"invalid input: {names}", errors=errors
    )


async def _invalid_input(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, InvalidInputError)
    return problem(
        request,
        422,
        kind="validation-error",
        detail=str(exc),
        errors=[
            {**d, "type": "value_error"}
            for d in exc.details or [{"field": exc.field, "message": exc.message}]
        ],
    )


async def _http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
    if exc.status_code == 404 and detail == "Not Found":
        detail = f"no route matches {request.method} {request.url.path}; see /api/docs"
    return problem(request, exc.status_code, detail=detail, headers=dict(exc.headers or {}))


async def _not_found(request: Request, exc: Exception) -> JSONResponse:
    return problem(request, 404, kind="not-found", detail=str(exc))


async def _conflict(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ConflictError)
    return problem(request, 409, kind="conflict", detail=str(exc), allowed=exc.allowed)


async def _unauthenticated(request: Request, exc: Exception) -> JSONResponse:
    return problem(
        request,
        401,
        kind="unauthenticated",
        detail=str(exc),
        headers={"WWW-Authenticate": 'Bearer realm="arverne"'},
    )


async def _forbidden(request: Request, exc: Exception) -> JSONResponse:
    return problem(request, 403, kind="forbidden", detail=str(exc))


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    logger.exception("unhandled error on %s %s", request.method, request.url.path)
    return problem(
        request,
        500,
        kind="internal-error",
        detail="unexpected server error; nothing was saved. Report the request_id to your admin",
    )


def install(app: FastAPI) -> None:
    """Register the problem-details handlers on ``app``."""
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(InvalidInputError, _invalid_input)
    app.add_exception_handler(StarletteHTTPException, _http)
    app.add_exception_handler(NotFoundError, _not_found)
    app.add_exception_handler(ConflictError, _conflict)
    app.add_exception_handler(AuthenticationError, _unauthenticated)
    app.add_exception_handler(ForbiddenError, _forbidden)
    app.add_exception_handler(Exception, _unexpected)
