"""The HTTP API: a thin FastAPI shell over :class:`rag.pipeline.RAGService`.

Routes live under ``/v1`` (plus ``/healthz``, ``/readyz``, ``/metrics`` and the
OpenAPI document at ``/openapi.json``); every error is
``{"error": {"type": ..., "message": ...}}``. Needs the ``server`` extra.

Example:
    >>> from rag.api import create_app                 # doctest: +SKIP
    >>> app = create_app(get_settings())               # doctest: +SKIP
"""

from __future__ import annotations

from rag.errors import require

require("fastapi", "server")

from rag.api.app import create_app  # noqa: E402

__all__ = ["create_app"]
