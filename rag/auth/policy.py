"""When the API requires a key: on by default wherever it matters.

``auth=auto`` (the default) requires a key when the server binds to anything but
loopback, when ``RAG_API_KEY`` is set, or once any key exists in the key store; a
loopback-only server without keys (``make demo``) stays open to local programs,
while its Host and Origin checks keep web pages out. ``auth=on`` always requires a
key; ``auth=off`` never does and is logged as a warning at start-up.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

_LOOPBACK_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost"}


def is_loopback(host: str | None) -> bool:
    """Whether ``host`` (a name or an address, IPv6 with or without brackets) is loopback only.

    Example:
        >>> is_loopback("127.0.0.1"), is_loopback("[::1]"), is_loopback("0.0.0.0")
        (True, True, False)
    """
    if not host:
        return False
    host = host.strip().strip("[]").lower()
    if host in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class AuthDecision:
    """Whether keys are required, and why (shown at start-up)."""

    required: bool
    reason: str
    #: ``auto`` only: a request arriving on a non-loopback interface still needs a key.
    auto: bool = False


def auth_decision(settings, keys) -> AuthDecision:
    """The decision for ``settings`` (``auth``, ``host``, ``api_key``) and a :class:`KeyStore`."""
    static_key = settings.api_key is not None
    if settings.auth == "off":
        return AuthDecision(False, "authentication is turned OFF (RAG_AUTH=off): anyone who can reach "
                                   "the server can read and change every collection")
    if settings.auth == "on":
        return AuthDecision(True, "authentication is on (RAG_AUTH=on)")
    if not is_loopback(settings.host):
        return AuthDecision(True, f"API key required: the server binds to {settings.host}, not loopback", auto=True)
    if static_key:
        return AuthDecision(True, "API key required: RAG_API_KEY is set", auto=True)
    if keys.has_active():
        return AuthDecision(True, "API key required: API keys exist (rag keys list)", auto=True)
    return AuthDecision(False, "no API key required: loopback only and no keys exist "
                               "(create one with `rag keys create`)", auto=True)
