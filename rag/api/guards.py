"""Host and Origin checks: keep web pages out of a server on the user's machine.

* **Host** (DNS rebinding): a page on ``evil.example`` that rebinds its name to
  127.0.0.1 sends ``Host: evil.example``; only the names the server is reached by
  are accepted.
* **Origin** (cross-site requests): a page may POST a multipart upload to
  ``127.0.0.1:8000`` without a CORS preflight; browsers mark such requests with an
  ``Origin`` header, which must be the server itself or an allowed origin. Programs
  (the SDK, curl, the UI's server side) send no Origin and are not affected.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from rag.api.errors import error_body
from rag.api.middleware import DRAIN_LIMIT, drain, header, send_json
from rag.auth import is_loopback

LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "[::1]")


def allowed_hosts(settings) -> list[str]:
    """The accepted Host names: ``allowed_hosts``, else loopback names plus the bound host."""
    explicit = settings.split_list(settings.allowed_hosts)
    if explicit:
        return explicit
    bound = settings.host.strip()
    if bound in ("0.0.0.0", "::", "[::]", ""):
        return ["*"]  # every interface: names unknown here; the API key is required (rag.auth.policy)
    hosts = list(LOOPBACK_HOSTS)
    shown = f"[{bound.strip('[]')}]" if ":" in bound else bound
    if not is_loopback(bound) and shown.lower() not in hosts:
        hosts.append(shown.lower())
    return hosts


def _host_name(host: str) -> str:
    """``example.com:8000`` -> ``example.com``; ``[::1]:8000`` -> ``[::1]``."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[: host.find("]") + 1] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


class HostOriginMiddleware:
    """Refuses (400/403, structured) a request whose Host or Origin is not allowed.

    Args:
        hosts: accepted Host names (``*`` = any; ``*.example.com`` = its subdomains).
        origins: accepted cross-origin ``Origin`` values (``scheme://host[:port]``);
            a request from the server's own origin (its /docs page) is always accepted.
    """

    def __init__(self, app, *, hosts: list[str], origins: list[str]) -> None:
        self.app = app
        self.any_host = "*" in hosts
        self.hosts = {h.lower() for h in hosts}
        self.origins = {o.rstrip("/").lower() for o in origins}

    def host_ok(self, host: str | None) -> bool:
        if self.any_host:
            return True
        if not host:
            return False
        name = _host_name(host)
        return name in self.hosts or any(h.startswith("*.") and name.endswith(h[1:]) for h in self.hosts)

    def origin_ok(self, origin: str, host: str | None) -> bool:
        origin = origin.rstrip("/").lower()
        if origin in self.origins or "*" in self.origins:
            return True
        parts = urlsplit(origin)
        return bool(host) and parts.scheme in ("http", "https") and parts.netloc == host.strip().lower()

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] not in ("http", "websocket"):
            return await self.app(scope, receive, send)
        host = header(scope, b"host")
        if not self.host_ok(host):
            return await _refuse(scope, receive, send, 400, "invalid_host",
                                 f"Host '{host or ''}' is not allowed (set RAG_ALLOWED_HOSTS to serve under this name)")
        origin = header(scope, b"origin")
        if origin is not None and not self.origin_ok(origin, host):
            return await _refuse(scope, receive, send, 403, "forbidden_origin",
                                 f"cross-origin requests from '{origin}' are not allowed "
                                 "(set RAG_CORS_ORIGINS to allow a web app)")
        await self.app(scope, receive, send)


async def _refuse(scope, receive, send, status: int, type_: str, message: str) -> None:
    if scope["type"] == "websocket":
        await send({"type": "websocket.close", "code": 1008})
        return
    await drain(receive, DRAIN_LIMIT)
    await send_json(send, status, error_body(type_, message))
