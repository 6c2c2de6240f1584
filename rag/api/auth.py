"""Authentication and the per-key rate limit, as pure ASGI middleware.

The middleware finds the caller (a :class:`rag.auth.Principal`) of every request to a
protected path and stores it in ``scope["state"]["principal"]``; routes then check
what it may touch (:mod:`rag.api.access`). A refused request is answered before its
body is read.
"""

from __future__ import annotations

import hmac
import logging

from rag.api.errors import error_body
from rag.api.middleware import DRAIN_LIMIT, drain, header, send_json
from rag.api.ratelimit import retry_after
from rag.auth import ANONYMOUS, Principal, is_loopback

log = logging.getLogger("rag.api")

#: Paths that need a key when authentication is on; /healthz, /readyz and the API docs stay open.
PROTECTED = ("/v1", "/metrics")
#: The caller named by ``RAG_API_KEY``.
STATIC_KEY_PRINCIPAL = Principal(key_id="env", name="RAG_API_KEY", role="admin")


def protected(path: str) -> bool:
    return any(path == p or path.startswith(p + "/") for p in PROTECTED)


class AuthMiddleware:
    """Authenticates ``Authorization: Bearer <key>`` and applies the rate limit.

    Args:
        decision: the :class:`rag.auth.AuthDecision` of the settings.
        keys: the :class:`rag.auth.KeyStore` (read on each request, so a revoked key stops at once).
        static_key: ``RAG_API_KEY``, an admin key (or None).
        limiter: the :class:`rag.api.ratelimit.RateLimiter`.
    """

    def __init__(self, app, *, decision, keys, static_key: str | None, limiter) -> None:
        self.app = app
        self.decision = decision
        self.keys = keys
        self.static_key = static_key.encode() if static_key else None
        self.limiter = limiter

    def _required(self, scope) -> bool:
        if self.decision.required:
            return True
        if not self.decision.auto:
            return False
        # auto on loopback: keys created while the server runs turn it on; so does a
        # request that arrived on another interface (uvicorn started by hand on 0.0.0.0).
        server = scope.get("server") or ("", None)
        return not is_loopback(server[0]) or self.keys.has_active()

    def _principal(self, token: str) -> Principal | None:
        if self.static_key is not None and hmac.compare_digest(token.encode(), self.static_key):
            return STATIC_KEY_PRINCIPAL
        return self.keys.verify(token)

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or not protected(scope["path"]):
            return await self.app(scope, receive, send)
        scheme, _, token = (header(scope, b"authorization") or "").partition(" ")
        token = token.strip()
        if token and scheme.lower() == "bearer":
            principal = self._principal(token)
            if principal is None:
                return await _refuse(receive, send, 401, "unauthorized", "the API key is not valid (or was revoked)",
                                     [(b"www-authenticate", b"Bearer")])
        elif self._required(scope):
            return await _refuse(receive, send, 401, "unauthorized",
                                 "missing 'Authorization: Bearer <key>' header (create a key with `rag keys create`)",
                                 [(b"www-authenticate", b"Bearer")])
        else:
            principal = ANONYMOUS
        caller = principal.key_id if principal is not ANONYMOUS else "addr:" + str((scope.get("client") or ("",))[0])
        wait = self.limiter.take(caller)
        if wait > 0:
            seconds = retry_after(wait)
            return await _refuse(receive, send, 429, "rate_limited",
                                 f"too many requests for this key: retry in {seconds} s "
                                 f"(limit: rate_limit_per_minute)", [(b"retry-after", seconds.encode())],
                                 retry_after=int(seconds))
        scope.setdefault("state", {})["principal"] = principal
        await self.app(scope, receive, send)


async def _refuse(receive, send, status: int, type_: str, message: str, headers, **details) -> None:
    await drain(receive, DRAIN_LIMIT)
    await send_json(send, status, error_body(type_, message, **details), headers)
