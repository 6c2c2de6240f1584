"""A server whose generator backend is down: asking gives a structured 503, the
server stays up, and retrieval and ingestion still work."""

from __future__ import annotations

import socket
import subprocess
import sys
import time

import httpx
import pytest

from rag.client import RAGClient, ServiceUnavailable
from tests.api_server import SMALL_GENERATOR, free_port, running_server

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


def _ask(url: str, question: str) -> httpx.Response:
    return httpx.post(url + "/v1/collections/docs/ask", json={"query": question, "max_tokens": 16}, timeout=60)


def _silent_listener(port: int) -> socket.socket:
    """A backend that accepts connections and never answers (a hung LLM server)."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen(64)
    return sock


def test_backend_down_then_slow_then_back(tmp_path, models_home):
    """503 + Retry-After while the backend is down or hangs; the server stays healthy and,
    once a real llama.cpp OpenAI-compatible server comes up on that port, answers again
    and becomes ready, without a restart."""
    port = free_port()
    env = {"RAG_GENERATOR_BACKEND": "openai", "RAG_GENERATOR_BASE_URL": f"http://127.0.0.1:{port}/v1",
           "RAG_GENERATOR_RETRIES": "0", "RAG_GENERATOR_TIMEOUT": "3", "RAG_ANSWERABLE_THRESHOLD": "0"}
    question = "How many vacation days does every employee get per calendar year?"
    with running_server(tmp_path / "home", models_home, env=env, wait_for="/healthz") as url:
        with RAGClient(url, timeout=60, retries=0) as client:
            doc = tmp_path / "policy.md"
            doc.write_text("# Vacation\n\nEvery employee gets 27 vacation days per calendar year.\n")
            client.create_collection("docs")
            assert client.wait_for_job(client.upload("docs", [doc]).job_id, timeout=60, poll=0.2).state == "succeeded"

        down = _ask(url, question)
        assert down.status_code == 503 and down.headers.get("retry-after") == "5", down.headers
        assert down.json()["error"]["type"] == "generator_unavailable"

        slow = _silent_listener(port)
        try:
            started = time.monotonic()
            hung = _ask(url, question)
            assert hung.status_code == 503 and hung.headers.get("retry-after"), hung.text
            assert time.monotonic() - started < 30  # bounded by the generator timeout, not hung
            assert httpx.get(url + "/healthz").status_code == 200
            assert httpx.post(url + "/v1/collections/docs/retrieve", json={"query": question}).status_code == 200
        finally:
            slow.close()

        gguf = next((models_home / SMALL_GENERATOR).glob("*.gguf"))
        backend = subprocess.Popen(
            [sys.executable, "-m", "llama_cpp.server", "--model", str(gguf), "--model_alias", SMALL_GENERATOR,
             "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "2048", "--n_threads", "1"],
            stdout=subprocess.DEVNULL, stderr=(tmp_path / "backend.log").open("w"))
        try:
            deadline = time.monotonic() + 120
            answered = None
            while time.monotonic() < deadline:
                if backend.poll() is not None:
                    pytest.fail("llama_cpp.server exited:\n" + (tmp_path / "backend.log").read_text()[-2000:])
                r = _ask(url, question)
                assert r.status_code in (200, 503), r.text
                if r.status_code == 200:
                    answered = r.json()
                    break
                time.sleep(1)
            assert answered is not None, "the server did not recover once the backend was back"
            deadline = time.monotonic() + 60  # readiness retries its warm-up by itself
            while httpx.get(url + "/readyz").status_code != 200 and time.monotonic() < deadline:
                time.sleep(0.5)
            assert httpx.get(url + "/readyz").status_code == 200
        finally:
            backend.terminate()
            backend.wait(15)
