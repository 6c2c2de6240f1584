"""Observing each request: its id, its metrics and one JSON access-log line.

Every response carries ``X-Request-ID`` (the client's, when it is a sane token, else a new
one); log lines written while the request runs carry it too (:mod:`rag.api.logs`).
"""

from __future__ import annotations

import logging
import re
import time
import uuid

from rag.api.logs import request_id
from rag.api.middleware import header

_SANE_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
access_log = logging.getLogger("rag.api.access")


class ObserveMiddleware:
    """Sets ``X-Request-ID``, counts and times the request by route template and status,
    and logs it as one JSON line (``rag.api.access``)."""

    def __init__(self, app, metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        sent = header(scope, b"x-request-id")
        rid = sent if sent and _SANE_ID.fullmatch(sent) else uuid.uuid4().hex
        token = request_id.set(rid)
        started = time.perf_counter()
        status = 500

        async def send_with_id(message):
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message = {**message, "headers": [*message.get("headers", []), (b"x-request-id", rid.encode())]}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            seconds = time.perf_counter() - started
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            self.metrics.observe_request(scope["method"], route, status, seconds)
            principal = scope.get("state", {}).get("principal")
            access_log.info("request", extra={
                "method": scope["method"], "path": scope["path"], "route": route, "status": status,
                "duration_ms": round(seconds * 1000, 1), "key_id": getattr(principal, "key_id", None),
                "client": (scope.get("client") or (None,))[0]})
            request_id.reset(token)
