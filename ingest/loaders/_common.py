"""Small helpers shared by the loaders (not part of the public API)."""

from __future__ import annotations

import hashlib
from pathlib import Path

from ingest.loaders.base import LoadedDocument, Page


def make_document(
    path: Path,
    data: bytes,
    *,
    kind: str,
    title: str,
    pages: list[Page],
    metadata: dict[str, str] | None = None,
) -> LoadedDocument:
    """Build a :class:`LoadedDocument`, filling in the content hash and mtime.

    ``load_document`` overrides ``mtime`` with the value of the ``stat`` it already did;
    reading it here keeps each loader usable on its own.
    """
    try:
        mtime = path.stat().st_mtime
    except OSError:
        mtime = 0.0
    return LoadedDocument(
        source=path,
        title=title or path.stem,
        kind=kind,
        pages=pages,
        content_hash=hashlib.sha256(data).hexdigest(),
        mtime=mtime,
        metadata=metadata or {},
    )


def short_reason(exc: BaseException, limit: int = 160) -> str:
    """The first line of an exception's message, trimmed to ``limit`` characters."""
    text = str(exc).strip().splitlines()[0].strip() if str(exc).strip() else ""
    if not text:
        text = type(exc).__name__
    if len(text) > limit:
        text = text[: limit - 1].rstrip() + "…"
    return text
