"""What the caller of a request may touch: checks the routes make before any work.

A refused collection is refused whether or not it exists, so a key learns nothing
about collections it was not granted (404 vs 403 would tell).
"""

from __future__ import annotations

from fastapi import Request

from rag.auth import ANONYMOUS, Principal
from rag.errors import RagError


class ForbiddenError(RagError):
    """The API key is valid but may not do this (role or collection grants)."""

    type = "forbidden"
    status_code = 403


def principal(request: Request) -> Principal:
    """The caller, found by :class:`rag.api.auth.AuthMiddleware` (anonymous when auth is off)."""
    return getattr(request.state, "principal", None) or ANONYMOUS


def require_read(request: Request, collection: str) -> None:
    """Raise 403 unless the caller may read ``collection``."""
    if not principal(request).can_read(collection):
        raise ForbiddenError(f"this API key may not read collection '{collection}'")


def require_write(request: Request, collection: str) -> None:
    """Raise 403 unless the caller may change ``collection`` (writer or admin with a grant)."""
    who = principal(request)
    if not who.can_write(collection):
        why = "is read-only" if who.role == "reader" else f"has no grant for collection '{collection}'"
        raise ForbiddenError(f"this API key {why}: it may not change collection '{collection}'")


def readable(request: Request, items, name=lambda item: item.name) -> list:
    """The items (collections, models...) whose collection the caller may read."""
    who = principal(request)
    return [item for item in items if who.can_read(name(item))]
