"""Errors of the HTTP edge, and the handlers that turn every failure into
``{"error": {"type": ..., "message": ...}}``.

Domain errors (:class:`rag.errors.RagError`) keep their own status and type; request
validation becomes ``invalid_input``; an unexpected exception becomes a 500 whose
body says nothing about the code (the traceback goes to the log).
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from rag.errors import InvalidInputError, RagError

log = logging.getLogger("rag.api")

#: ``type`` of the error body for plain HTTP statuses raised by the framework.
_HTTP_TYPES = {
    400: "invalid_input",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "invalid_input",
    429: "too_many_requests",
    503: "unavailable",
    504: "timeout",
}


class UnauthorizedError(RagError):
    """The request lacks the right ``Authorization: Bearer <key>`` header."""

    type = "unauthorized"
    status_code = 401


class PayloadTooLargeError(RagError):
    """An upload (or a request body) is larger than ``max_upload_mb``."""

    type = "payload_too_large"
    status_code = 413


class LimitExceededError(InvalidInputError):
    """A request is over one of the server's limits (question length, list lengths, files per upload)."""

    status_code = 422


class UnsupportedMediaTypeError(RagError):
    """An uploaded file's type has no loader."""

    type = "unsupported_media_type"
    status_code = 415


class RequestTimeoutError(RagError):
    """The request ran past ``request_timeout``."""

    type = "timeout"
    status_code = 504


def error_body(type_: str, message: str, **details: object) -> dict:
    """The JSON body of every error response."""
    return {"error": {"type": type_, "message": message, **details}}


def error_response(status: int, type_: str, message: str, headers: dict | None = None) -> JSONResponse:
    return JSONResponse(error_body(type_, message), status_code=status, headers=headers)


def describe_validation(errors) -> str:
    """One readable line: ``"query: String should have at least 1 character; k: ..."``."""
    parts = []
    for err in errors:
        loc = [str(p) for p in err.get("loc", ())]
        if loc and loc[0] in ("body", "query", "path", "header", "cookie"):
            loc = loc[1:] or loc  # drop the "where in the request", keep the field
        where = ".".join(loc) or "body"
        parts.append(f"{where}: {err.get('msg', 'invalid')}")
    return "; ".join(parts) or "invalid request"


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers that make every error a structured body."""

    @app.exception_handler(RagError)
    async def _rag_error(request: Request, exc: RagError) -> JSONResponse:
        if exc.status_code >= 500:
            log.warning("%s %s -> %s: %s", request.method, request.url.path, exc.status_code, exc.message)
        headers = {"WWW-Authenticate": "Bearer"} if exc.status_code == 401 else {}
        if exc.retry_after is not None:
            headers["Retry-After"] = str(exc.retry_after)
        return JSONResponse({"error": _jsonable(exc.to_dict())}, status_code=exc.status_code, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        if any(e.get("type") == "json_invalid" for e in errors):
            detail = next(e for e in errors if e.get("type") == "json_invalid")
            ctx = (detail.get("ctx") or {}).get("error", "")
            return error_response(400, "invalid_input", f"the request body is not valid JSON: {ctx}".rstrip(": "))
        return error_response(422, "invalid_input", describe_validation(errors))

    @app.exception_handler(ValidationError)
    async def _invalid_model(request: Request, exc: ValidationError) -> JSONResponse:
        return error_response(422, "invalid_input", describe_validation(exc.errors()))

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        type_ = _HTTP_TYPES.get(exc.status_code, "http_error")
        message = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        if exc.status_code == 404 and message == "Not Found":
            message = f"no route {request.method} {request.url.path} (see /docs)"
        elif exc.status_code == 405:
            message = f"method {request.method} is not allowed on {request.url.path}"
        return error_response(exc.status_code, type_, message, headers=getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return error_response(500, "internal_error", "the server hit an unexpected error; it has been logged")


def _jsonable(data: dict) -> dict:
    """Error details may hold paths or other objects; make them JSON."""
    return {k: v if isinstance(v, (str, int, float, bool, type(None), list, dict)) else str(v) for k, v in data.items()}
