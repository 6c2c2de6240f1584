"""The SDK on its own: import hygiene, SSE decoding, error mapping, retry policy."""

from __future__ import annotations

import subprocess
import sys

import httpx
import pytest

from rag.client import (
    APIError,
    ConnectionFailed,
    NotFound,
    RAGClient,
    ServerError,
    ServiceUnavailable,
    UnsupportedMediaType,
)
from rag.client._sse import SSEDecoder
from rag.client.errors import error_from_event, error_from_response
from tests.api_server import free_port

HEAVY = ("torch", "faiss", "sentence_transformers", "numpy", "llama_cpp", "fastapi", "rag.store", "rag.embed")


def test_sdk_imports_nothing_heavy():
    code = ("import rag.client, sys; heavy = [m for m in %r if m in sys.modules]; "
            "assert not heavy, heavy" % (HEAVY,))
    subprocess.run([sys.executable, "-c", code], check=True)


def test_sse_decoder():
    dec = SSEDecoder()
    lines = [": keep-alive", "event: token", 'data: {"a":', "data: 1}", "", "data: [DONE]", ""]
    out = [item for line in lines if (item := dec.feed(line)) is not None]
    assert out == [("token", '{"a":\n1}'), (None, "[DONE]")]
    assert dec.flush() is None


def test_errors_from_bodies():
    err = error_from_response(404, b'{"error": {"type": "not_found", "message": "no collection x"}}')
    assert isinstance(err, NotFound) and (err.status, err.type, err.message) == (404, "not_found", "no collection x")
    body = b'{"error": {"type": "unsupported_media_type", "message": "m", "supported": [".pdf"]}}'
    err = error_from_response(415, body)
    assert isinstance(err, UnsupportedMediaType) and err.body["supported"] == [".pdf"]
    err = error_from_response(502, b"<html>Bad gateway</html>")
    assert isinstance(err, ServerError) and err.type == "http_error" and "Bad gateway" in err.message
    err = error_from_event({"type": "generator_unavailable", "message": "down"})
    assert isinstance(err, ServiceUnavailable) and err.status is None


def _counting(statuses: list[int]):
    """A transport answering the given statuses in turn (the policy is under test, not a server)."""
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.method)
        status = statuses[min(len(seen) - 1, len(statuses) - 1)]
        if status >= 400:
            return httpx.Response(status, json={"error": {"type": "x", "message": "y"}})
        return httpx.Response(200, json={"status": "ok", "detail": {}})

    return httpx.MockTransport(handler), seen


def test_retries_503_with_backoff_but_not_4xx():
    transport, seen = _counting([503, 503, 200])
    with RAGClient("http://rag.test/v1", retries=3, backoff=0.01, transport=transport) as c:
        assert c.health().status == "ok"
    assert len(seen) == 3

    transport, seen = _counting([404])
    with RAGClient("http://rag.test", retries=3, backoff=0.01, transport=transport) as c, pytest.raises(NotFound):
        c.health()
    assert len(seen) == 1

    transport, seen = _counting([503])
    with RAGClient("http://rag.test", retries=2, backoff=0.01, transport=transport) as c:
        with pytest.raises(ServiceUnavailable):
            c.health()
    assert len(seen) == 3


def test_connection_failure_after_retries():
    with RAGClient(f"http://127.0.0.1:{free_port()}", retries=2, backoff=0.01, timeout=5) as c:
        with pytest.raises(ConnectionFailed) as failed:
            c.list_collections()
    assert "3 attempt" in str(failed.value)
    assert not isinstance(failed.value, APIError)
