"""The Python SDK of the groundrag HTTP API.

It needs only the foundation (:mod:`rag.schemas`, pydantic) and httpx: no torch,
faiss or model code is imported, so applications and the UI install it alone.
Results are the same pydantic models the server uses.

Example:
    >>> from rag.client import RAGClient                                   # doctest: +SKIP
    >>> rag = RAGClient("http://127.0.0.1:8000", api_key="...")             # doctest: +SKIP
    >>> job = rag.wait_for_job(rag.upload("handbook", ["policy.pdf"]).job_id)  # doctest: +SKIP
    >>> rag.ask("handbook", "How many vacation days?").answer               # doctest: +SKIP
"""

from __future__ import annotations

from rag.client.aio import AsyncRAGClient
from rag.client.errors import (
    APIError,
    BadRequest,
    Conflict,
    ConnectionFailed,
    JobTimeout,
    NotFound,
    PayloadTooLarge,
    RAGClientError,
    RateLimited,
    RequestTimeout,
    ServerError,
    ServiceUnavailable,
    Unauthorized,
    UnsupportedMediaType,
)
from rag.client.sync import RAGClient

__all__ = [
    "APIError",
    "AsyncRAGClient",
    "BadRequest",
    "Conflict",
    "ConnectionFailed",
    "JobTimeout",
    "NotFound",
    "PayloadTooLarge",
    "RAGClient",
    "RAGClientError",
    "RateLimited",
    "RequestTimeout",
    "ServerError",
    "ServiceUnavailable",
    "Unauthorized",
    "UnsupportedMediaType",
]
