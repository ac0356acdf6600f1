"""Domain errors -> HTTP answers, for the API (JSON) and the console (a page).

Every error body is ``{"error": {"code", "message", "problems"}}``: never a stack
trace, never a value the caller sent (pydantic's echo of the input is dropped),
and the traceback of an unexpected error goes to the server log without the
exception's message (``config.logs``), which may hold data.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, InterfaceError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from serving.metrics import TooLarge
from serving.schemas import ErrorBody
from serving.services.errors import Forbidden, Invalid, NoModel, NotFound, ServiceError
from store.bundle import BundleError, KeepwarmError

log = logging.getLogger("keepwarm.serving")

STATUS: dict[type[ServiceError], int] = {
    NotFound: 404,
    Forbidden: 403,
    NoModel: 503,
    Invalid: 422,
}

# OpenAPI: the answers routes may give besides their own.
ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorBody, "description": "Unreadable request (e.g. a body that is not UTF-8)"},
    401: {"model": ErrorBody, "description": "No API key, or an unknown or revoked one"},
    403: {"model": ErrorBody, "description": "The key's role may not do this"},
    413: {"model": ErrorBody, "description": "Request body too large"},
    422: {
        "model": ErrorBody,
        "description": "Invalid input: which item and field, nothing written",
    },
    429: {"model": ErrorBody, "description": "Rate limit of this key exceeded"},
}
NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorBody, "description": "Unknown, or not yours to see"}
}
BAD_CURSOR: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorBody, "description": "A cursor this API did not give out"}
}
UNAVAILABLE: dict[int | str, dict[str, Any]] = {
    503: {"model": ErrorBody, "description": "No champion model loaded yet"}
}


class ApiError(HTTPException):
    """An HTTP answer with the API's error code (raised by the API layer itself)."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(status, message)
        self.code = code


def error_response(
    status: int, code: str, message: str, problems: list[dict[str, Any]] | None = None
) -> JSONResponse:
    body = {"error": {"code": code, "message": message, "problems": problems or []}}
    return JSONResponse(body, status_code=status, headers={"Cache-Control": "no-store"})


def route(request: Request) -> str:
    """The route's template (``/v1/candidates/{candidate_id}``): no ids or input in logs."""
    matched = request.scope.get("route")
    return getattr(matched, "path", None) or "unmatched"


def install_handlers(app: FastAPI) -> None:
    """The API's answers for domain errors, invalid input, the store down, and crashes."""

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = []
        for err in exc.errors()[:50]:
            loc = [p for p in err.get("loc", ()) if p not in ("body", "query", "path", "header")]
            index = next((p for p in loc if isinstance(p, int)), None)
            names = [str(p) for p in loc if not isinstance(p, int)]
            # The message only: pydantic's "input" would echo personal data back.
            problems.append(
                {"index": index, "field": ".".join(names) or None, "message": err.get("msg", "")}
            )
        return error_response(422, "invalid", "invalid request; nothing was written", problems)

    @app.exception_handler(BundleError)
    async def rejected(request: Request, exc: BundleError) -> JSONResponse:
        problems = [
            {"index": p.index, "field": p.column, "message": p.message} for p in exc.problems
        ]
        return error_response(422, "invalid", "invalid items; nothing was written", problems)

    @app.exception_handler(ServiceError)
    async def refused(request: Request, exc: ServiceError) -> JSONResponse:
        status = STATUS.get(type(exc), 400)
        problems = [{"index": None, "field": exc.field, "message": str(exc)}] if exc.field else None
        response = error_response(status, exc.code, str(exc), problems)
        if status == 503:
            response.headers["Retry-After"] = "30"
        return response

    @app.exception_handler(TooLarge)
    async def too_large(request: Request, exc: TooLarge) -> JSONResponse:
        limit = request.app.state.service.settings.max_body_bytes
        return error_response(413, "too_large", f"request body over {limit} bytes")

    @app.exception_handler(KeepwarmError)
    async def user_error(request: Request, exc: KeepwarmError) -> JSONResponse:
        return error_response(400, "bad_request", str(exc))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = getattr(exc, "code", None) or {404: "not_found", 405: "method_not_allowed"}.get(
            exc.status_code, "error"
        )
        response = error_response(exc.status_code, code, str(exc.detail))
        response.headers.update(exc.headers or {})  # e.g. Allow on a 405
        if exc.status_code == 429:
            response.headers["Retry-After"] = "1"
        return response

    @app.exception_handler(DataError)
    async def unstorable(request: Request, exc: DataError) -> JSONResponse:
        # a value the store's types refuse (checks upstream should have named it first);
        # engines hide parameters, and only the error's type is logged
        log.warning("store refused a value on %s %s", request.method, route(request))
        return error_response(422, "invalid", "a value the store cannot keep; nothing was written")

    @app.exception_handler(OperationalError)
    @app.exception_handler(InterfaceError)
    async def store_down(request: Request, exc: Exception) -> JSONResponse:
        # The transaction was rolled back: nothing was half-written. The pool reconnects
        # by itself when the store is back (pool_pre_ping), so no restart is needed.
        log.error(
            "store unavailable on %s %s: %s", request.method, route(request), type(exc).__name__
        )
        response = error_response(503, "store_unavailable", "the store is unavailable; try again")
        response.headers["Retry-After"] = "5"
        return response

    @app.exception_handler(Exception)
    async def crashed(request: Request, exc: Exception) -> JSONResponse:
        # The traceback goes to the server log (no request body, no message); the client
        # gets none.
        log.error("internal error on %s %s", request.method, route(request), exc_info=exc)
        return error_response(500, "internal", "internal error; it has been logged")
