"""The app in-process (no socket): the request timeout and the 500 path."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from rag.api import create_app
from rag.pipeline import RAGService


class _BrokenRetriever:
    """A retriever with a bug, to check that an unexpected error stays inside the server."""

    def retrieve(self, collection, request):
        raise RuntimeError("secret internal detail")


@pytest.fixture
def make_client(settings, embedder):
    def make(service: RAGService, **overrides) -> TestClient:
        app = create_app(settings.model_copy(update=overrides), service, warm_up=False)
        # The Host check accepts loopback names only (TestClient says "testserver" by default).
        return TestClient(app, base_url="http://127.0.0.1", raise_server_exceptions=False)

    return make


def test_request_timeout_gives_504(settings, embedder, make_client):
    service = RAGService(settings, embedder=embedder)
    service.collections.create("docs", embedding_model=embedder.name, dimension=embedder.dimension)
    with make_client(service, request_timeout=1e-6) as client:
        for path in ("/v1/collections/docs/ask", "/v1/collections/docs/retrieve"):
            reply = client.post(path, json={"query": "anything"})
            assert reply.status_code == 504, reply.text
            assert reply.json()["error"]["type"] == "timeout"
        assert client.get("/healthz").status_code == 200


def test_unexpected_error_is_a_structured_500_without_details(settings, embedder, make_client):
    service = RAGService(settings, embedder=embedder, retriever=_BrokenRetriever())
    service.collections.create("docs", embedding_model=embedder.name, dimension=embedder.dimension)
    with make_client(service) as client:
        reply = client.post("/v1/collections/docs/retrieve", json={"query": "anything"})
        assert reply.status_code == 500
        assert reply.json() == {"error": {"type": "internal_error",
                                          "message": "the server hit an unexpected error; it has been logged"}}
        stream = client.post("/v1/collections/docs/ask", json={"query": "anything", "stream": True})
        assert stream.status_code == 500 and "secret" not in stream.text
        assert client.get("/readyz").json()["status"] == "ok"  # no warm-up: ready at once
