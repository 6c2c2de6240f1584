"""Errors the SDK raises; HTTP errors are built from the server's error body."""

from __future__ import annotations

import json


class RAGClientError(Exception):
    """Base class of every error the SDK raises."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ConnectionFailed(RAGClientError):
    """The server could not be reached (after the retries)."""


class RequestTimeout(RAGClientError):
    """The server did not answer within the client's timeout."""


class JobTimeout(RAGClientError):
    """``wait_for_job`` gave up before the job finished."""


class APIError(RAGClientError):
    """The server answered with an error.

    Attributes:
        status: the HTTP status (None for an error reported inside a stream).
        type: the error type from the body, e.g. ``not_found``, ``invalid_input``.
        message: the server's one-line message.
        body: the whole ``error`` member (it may carry details, e.g. ``supported``).
    """

    def __init__(self, status: int | None, type: str, message: str, body: dict | None = None) -> None:
        super().__init__(f"{type}: {message}" + (f" (HTTP {status})" if status else ""))
        self.status = status
        self.type = type
        self.message = message
        self.body = body or {}


class BadRequest(APIError):
    """400 or 422: the request is invalid (empty question, bad name, invalid JSON...)."""


class Unauthorized(APIError):
    """401 or 403: missing or wrong API key."""


class NotFound(APIError):
    """404: no such collection, document, job or route."""


class Conflict(APIError):
    """409: the name is taken, or an ingestion is writing to the collection."""


class PayloadTooLarge(APIError):
    """413: an upload is larger than the server's limit."""


class UnsupportedMediaType(APIError):
    """415: an uploaded file type cannot be read; ``body["supported"]`` lists those that can."""


class RateLimited(APIError):
    """429: the API key sent too many requests; retried after ``Retry-After`` before it is raised."""


class ServerError(APIError):
    """5xx: the server (or its generator) failed."""


class ServiceUnavailable(ServerError):
    """503: the generator or the server is unavailable; retried before it is raised."""


_BY_STATUS = {400: BadRequest, 422: BadRequest, 401: Unauthorized, 403: Unauthorized, 404: NotFound,
              409: Conflict, 413: PayloadTooLarge, 415: UnsupportedMediaType, 429: RateLimited,
              503: ServiceUnavailable}
_BY_TYPE = {"invalid_input": BadRequest, "unauthorized": Unauthorized, "forbidden": Unauthorized, "not_found": NotFound,
            "conflict": Conflict, "model_mismatch": Conflict, "generator_unavailable": ServiceUnavailable}


def error_from_response(status: int, content: bytes) -> APIError:
    """The error for an HTTP error response (any body, structured or not)."""
    try:
        error = json.loads(content).get("error")
    except (ValueError, AttributeError):
        error = None
    if not isinstance(error, dict):
        text = content.decode("utf-8", "replace").strip()[:500] or "no details"
        error = {"type": "http_error", "message": text}
    cls = _BY_STATUS.get(status) or (ServerError if status >= 500 else APIError)
    return cls(status, str(error.get("type", "http_error")), str(error.get("message", "")), error)


def error_from_event(error: dict | None) -> APIError:
    """The error for an ``error`` event of a stream (the HTTP status was 200)."""
    error = error or {"type": "stream_error", "message": "the stream reported an error"}
    cls = _BY_TYPE.get(error.get("type", ""), ServerError)
    return cls(None, str(error.get("type", "stream_error")), str(error.get("message", "")), error)
