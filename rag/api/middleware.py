"""Pure ASGI middleware: the body size limits, and helpers the other middleware share
(authentication: :mod:`rag.api.auth`; Host/Origin: :mod:`rag.api.guards`; ids, metrics, logs:
:mod:`rag.api.observe`).

They are plain ASGI (not ``BaseHTTPMiddleware``) so that streamed answers pass
through untouched and a refused request is answered before its body is read.
"""

from __future__ import annotations

import json

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


def header(scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return value.decode("latin-1")
    return None


class BodyLimitMiddleware:
    """Refuses bodies larger than the limit: early on Content-Length, else while reading.

    Args:
        max_bytes: the limit of multipart bodies (uploads).
        max_json_bytes: the limit of every other body (JSON requests); defaults to ``max_bytes``.
    """

    def __init__(self, app, max_bytes: int, max_json_bytes: int | None = None) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.max_json_bytes = max_json_bytes or max_bytes

    @staticmethod
    def _message(limit: int, what: str) -> str:
        size = f"{limit / 1024 / 1024:.1f} MB" if limit >= 1024 * 1024 else f"{limit / 1024:.0f} KB"
        return f"the {what} is larger than the {size} limit"

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        upload = (header(scope, b"content-type") or "").lower().startswith("multipart/")
        limit, what = (self.max_bytes, "upload") if upload else (self.max_json_bytes, "request body")
        length = header(scope, b"content-length")
        if length and length.isdigit() and int(length) > limit:
            await drain(receive, DRAIN_LIMIT)
            return await send_json(send, 413, error_body("payload_too_large", self._message(limit, what)),
                                   [(b"connection", b"close")])
        received = 0

        async def limited():
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    # An HTTPException passes through FastAPI's body parsing unchanged.
                    raise HTTPException(413, self._message(limit, what))
            return message

        await self.app(scope, limited, send)


async def drain(receive, limit: int) -> None:
    read = 0
    while read <= limit:
        message = await receive()
        if message["type"] != "http.request":
            return
        read += len(message.get("body", b""))
        if not message.get("more_body"):
            return
