"""How the API fails: every error is a JSON body `{"error": ..., "message": ...}` with a 4xx or a
503, never a bare 500; a request whose path or query string is not UTF-8 is refused before
routing (Starlette would quietly turn the bad bytes into U+FFFD)."""
from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from urllib.parse import unquote_to_bytes

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from newsmon.index.core.errors import NewsmonError

log = logging.getLogger(__name__)


class ApiError(Exception):
    def __init__(self, status: int, error: str, message: str) -> None:
        super().__init__(message)
        self.status, self.error, self.message = status, error, message


def error_response(status: int, error: str, message: str,
                   headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": error, "message": message}, status_code=status,
                        headers=headers)


def _validation_message(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors():
        loc = [str(x) for x in err.get("loc", ()) if x not in ("query", "path", "header", "body")]
        where = ".".join(loc) or "request"
        parts.append(f"{where}: {err.get('msg', 'invalid')}")
    return "; ".join(parts) or "invalid request"


def _utf8_problem(raw: bytes) -> str | None:
    try:
        unquote_to_bytes(raw).decode("utf-8")
    except UnicodeDecodeError:
        return "not valid UTF-8 (percent-encode UTF-8 bytes)"
    return None


def install_error_handling(app: FastAPI) -> None:
    """The exception handlers and the guard middleware that answer every failure as JSON."""

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc.status, exc.error, exc.message)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        kind = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return error_response(exc.status_code, kind, str(exc.detail),
                              headers=getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return error_response(422, "invalid_parameter", _validation_message(exc))

    @app.exception_handler(NewsmonError)
    async def _newsmon_error(request: Request, exc: NewsmonError) -> JSONResponse:
        log.warning("%s %s: %s", request.method, request.url.path, exc)
        return error_response(503, "backend_error", str(exc))

    @app.middleware("http")
    async def _guard(request: Request, call_next: Callable[[Request], Awaitable[Response]]
                     ) -> Response:
        # before routing: Starlette would quietly turn bad bytes into U+FFFD
        scope = request.scope
        for what, raw in (("query string", scope.get("query_string", b"")),
                          ("path", scope.get("raw_path") or b"")):
            problem = _utf8_problem(raw)
            if problem:
                return error_response(400, "bad_request", f"{what}: {problem}")
        try:
            return await call_next(request)
        except Exception:  # noqa: BLE001 - answered as JSON, logged with the traceback
            log.exception("%s %s failed", request.method, request.url.path)
            return error_response(500, "internal_error",
                                  "the server failed on this request; see its log")


__all__ = ["ApiError", "error_response", "install_error_handling"]
