"""Pure ASGI middleware: request metrics, the body size limit and API-key auth.

They are plain ASGI (not ``BaseHTTPMiddleware``) so that streamed answers pass
through untouched and a refused request is answered before its body is read.
"""

from __future__ import annotations

import hmac
import json
import time

from fastapi import HTTPException

from rag.api.errors import error_body

#: Slack above ``max_upload_mb`` for multipart framing (boundaries, part headers).
MULTIPART_SLACK = 64 * 1024
#: A body refused on its Content-Length is read (and dropped) up to this much, so
#: that the client gets the 413 instead of a broken pipe.
DRAIN_LIMIT = 16 * 1024 * 1024


async def send_json(send, status: int, body: dict, headers: list[tuple[bytes, bytes]] = ()) -> None:
    data = json.dumps(body).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode()),
                            *headers]})
    await send({"type": "http.response.body", "body": data})


def _header(scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return value.decode("latin-1")
    return None


class MetricsMiddleware:
    """Counts requests and times them, by route template and status."""

    def __init__(self, app, metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started = time.perf_counter()
        status = 500

        async def send_wrapper(message):
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            self.metrics.observe_request(scope["method"], route, status, time.perf_counter() - started)


class BodyLimitMiddleware:
    """Refuses bodies larger than the limit: early on Content-Length, else while reading."""

    def __init__(self, app, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    def _message(self) -> str:
        return f"the request body is larger than the {self.max_bytes / 1024 / 1024:.1f} MB limit"

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        length = _header(scope, b"content-length")
        if length and length.isdigit() and int(length) > self.max_bytes:
            await _drain(receive, DRAIN_LIMIT)
            return await send_json(send, 413, error_body("payload_too_large", self._message()),
                                   [(b"connection", b"close")])
        received = 0

        async def limited():
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    # An HTTPException passes through FastAPI's body parsing unchanged.
                    raise HTTPException(413, self._message())
            return message

        await self.app(scope, limited, send)


async def _drain(receive, limit: int) -> None:
    read = 0
    while read <= limit:
        message = await receive()
        if message["type"] != "http.request":
            return
        read += len(message.get("body", b""))
        if not message.get("more_body"):
            return


class ApiKeyMiddleware:
    """When a key is set, paths under ``prefix`` need ``Authorization: Bearer <key>``."""

    def __init__(self, app, api_key: str, prefix: str = "/v1") -> None:
        self.app = app
        self.key = api_key.encode()
        self.prefix = prefix

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or not (scope["path"] == self.prefix or scope["path"].startswith(self.prefix + "/")):
            return await self.app(scope, receive, send)
        scheme, _, token = (_header(scope, b"authorization") or "").partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(token.strip().encode(), self.key):
            return await self.app(scope, receive, send)
        message = ("missing 'Authorization: Bearer <key>' header" if not token
                   else "the API key is not valid")
        await _drain(receive, DRAIN_LIMIT)
        await send_json(send, 401, error_body("unauthorized", message), [(b"www-authenticate", b"Bearer")])
