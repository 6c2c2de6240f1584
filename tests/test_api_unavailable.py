"""A server whose generator backend is down: asking gives a structured 503, the
server stays up, and retrieval and ingestion still work."""

from __future__ import annotations

import httpx
import pytest

from rag.client import RAGClient, ServiceUnavailable
from tests.api_server import free_port, running_server

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(tmp_path_factory, models_home):
    closed = free_port()  # nothing listens there
    env = {"RAG_GENERATOR_BACKEND": "openai", "RAG_GENERATOR_BASE_URL": f"http://127.0.0.1:{closed}/v1",
           "RAG_GENERATOR_RETRIES": "0", "RAG_GENERATOR_TIMEOUT": "5"}
    with running_server(tmp_path_factory.mktemp("down-home"), models_home, env=env, wait_for="/healthz") as url:
        yield url


def test_generator_down_gives_503_and_the_server_stays_up(server, tmp_path):
    with RAGClient(server, timeout=60, retries=1, backoff=0.05) as client:
        ready = client.wait_until_ready(timeout=120, poll=0.2)  # warm-up fails on the generator
        assert ready.status == "error" and "generator" in ready.detail.get("error", "")
        assert httpx.get(server + "/readyz").status_code == 503

        doc = tmp_path / "policy.md"
        doc.write_text("# Vacation\n\nEvery employee gets 27 vacation days per calendar year.\n")
        client.create_collection("docs")
        job = client.wait_for_job(client.upload("docs", [doc]).job_id, timeout=60, poll=0.2)
        assert job.state == "succeeded", job.error
        question = "How many vacation days does every employee get per calendar year?"
        assert client.retrieve("docs", question).hits  # the encoder side still works

        with pytest.raises(ServiceUnavailable) as down:
            client.ask("docs", question)
        assert down.value.status == 503 and down.value.type == "generator_unavailable"
        with pytest.raises(ServiceUnavailable):
            list(client.ask_stream("docs", question))

        raw = httpx.post(server + "/v1/collections/docs/ask", json={"query": question}, timeout=60)
        assert raw.status_code == 503
        assert raw.json()["error"]["type"] == "generator_unavailable" and "Traceback" not in raw.text
        chat = httpx.post(server + "/v1/chat/completions", timeout=60,
                          json={"model": "docs", "messages": [{"role": "user", "content": question}]})
        assert chat.status_code == 503 and chat.json()["error"]["type"] == "generator_unavailable"

        assert client.health().status == "ok"
        assert [c.documents for c in client.list_collections()] == [1]
