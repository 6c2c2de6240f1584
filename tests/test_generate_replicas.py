"""Replica rotation of the OpenAI-compatible generator: least-busy turns, failover, probes
that put a recovered replica back, and one clear error when every replica is down.

Scripted loopback servers play the replicas here (they can be started, stopped and made
to break a stream on demand); ``test_generate_vllm.py`` runs the rotation against real
vLLM servers.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from rag.config import get_settings
from rag.generate import GeneratorUnavailableError, make_generator
from rag.generate.openai_compat import OpenAICompatGenerator
from rag.generate.replicas import Replicas, split_urls
from tests.test_generate_openai import scripted_server, sse

HI = [{"role": "user", "content": "Hi"}]


def closed_port_url() -> str:
    """A loopback URL where nothing listens."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"


def reply_with(script, text: str) -> None:
    script.add("/v1/chat/completions", 200, sse(
        {"choices": [{"index": 0, "delta": {"content": text}, "finish_reason": "stop"}]},
        {"choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 1}},
    ), {"Content-Type": "text/event-stream"})
    script.add("/health", 200, {})


def chats(script) -> int:
    return sum(path == "/v1/chat/completions" for path, _, _ in script.requests)


def wait_until(predicate, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


@pytest.fixture
def two_servers() -> Iterator[tuple[tuple[str, object], tuple[str, object]]]:
    with scripted_server() as a, scripted_server() as b:
        reply_with(a[1], "A")
        reply_with(b[1], "B")
        yield a, b


def test_split_urls_accepts_lists_commas_and_the_v1_suffix() -> None:
    assert split_urls("http://a:1/v1") == ["http://a:1"]
    assert split_urls(" http://a:1/v1/ , ,http://b:2,http://a:1 ") == ["http://a:1", "http://b:2"]
    assert split_urls(["http://a:1/", "http://b:2/v1"]) == ["http://a:1", "http://b:2"]
    gen = make_generator(get_settings(generator_backend="openai", generator_base_url="http://a:1/v1,http://b:2/v1"))
    assert gen.replicas.roots == ["http://a:1", "http://b:2"]
    single = make_generator(get_settings(generator_backend="openai", generator_base_url="http://a:1/v1"))
    assert single.replicas.roots == ["http://a:1"] and single.base_url == "http://a:1/v1"


def test_requests_alternate_between_replicas(two_servers) -> None:
    (url_a, script_a), (url_b, script_b) = two_servers
    with OpenAICompatGenerator(f"{url_a}/v1,{url_b}/v1", model="m", retries=0) as gen:
        texts = [gen.generate(HI, max_tokens=2).text for _ in range(6)]
    assert sorted(texts) == ["A"] * 3 + ["B"] * 3
    assert chats(script_a) == chats(script_b) == 3


def test_least_busy_replica_is_chosen() -> None:
    pool = Replicas(["http://a", "http://b", "http://c"], probe=lambda root: True)
    pool.acquire("http://a")
    pool.acquire("http://a")
    pool.acquire("http://b")
    assert [pool.candidates()[0] for _ in range(3)] == ["http://c"] * 3
    pool.release("http://a")
    pool.release("http://a")
    assert set(pool.candidates()[:2]) == {"http://a", "http://c"}


def test_a_replica_that_refuses_connections_is_skipped(two_servers) -> None:
    (url_a, script_a), _ = two_servers
    dead = closed_port_url()
    with OpenAICompatGenerator([dead, url_a], model="m", retries=0, recheck_after=60) as gen:
        texts = [gen.generate(HI, max_tokens=2).text for _ in range(5)]
        status = {s["url"]: s for s in gen.replicas.status()}
    assert texts == ["A"] * 5 and chats(script_a) == 5
    # Tried once, then out of the rotation until a probe finds it healthy.
    assert status[dead]["up"] is False and status[dead]["failures"] == 1
    assert "ConnectError" in status[dead]["last_error"]
    assert status[url_a]["up"] is True and status[url_a]["in_flight"] == 0


def test_a_recovered_replica_is_probed_back_into_rotation(two_servers) -> None:
    (url_a, script_a), _ = two_servers
    late = closed_port_url()
    with OpenAICompatGenerator([late, url_a], model="m", retries=0, recheck_after=0.1) as gen:
        assert [gen.generate(HI, max_tokens=2).text for _ in range(2)] == ["A", "A"]  # one turn began at `late`
        assert not gen.replicas.status()[0]["up"]
        with scripted_server(int(late.rsplit(":", 1)[1])) as (_, script_late):
            reply_with(script_late, "L")
            # Requests keep going to A while the probe (GET /health) runs in the background.
            assert wait_until(lambda: gen.generate(HI, max_tokens=2).text and gen.replicas.status()[0]["up"])
            texts = {gen.generate(HI, max_tokens=2).text for _ in range(4)}
        assert any(path == "/health" for path, _, _ in script_late.requests)
    assert texts == {"A", "L"}


def test_every_replica_down_is_one_clear_error() -> None:
    dead = [closed_port_url(), closed_port_url()]
    with OpenAICompatGenerator(",".join(dead), model="m", retries=1, backoff=0.01) as gen:
        with pytest.raises(GeneratorUnavailableError) as info:
            gen.generate(HI, max_tokens=2)
        # Later requests still try every replica (none is left out forever) and fail the same way.
        with pytest.raises(GeneratorUnavailableError):
            list(gen.stream(HI, max_tokens=2))
    error = info.value
    assert error.status_code == 503 and error.type == "generator_unavailable"
    assert "none of the 2 generator replicas could be reached after 2 attempt(s)" in error.message
    assert all(url in error.message for url in dead)
    assert [s["failures"] for s in gen.replicas.status()] == [4, 4]  # 2 requests x 2 rounds


class BreaksBeforeText(BaseHTTPRequestHandler):
    """Accepts the chat request, promises a body and hangs up before sending it."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Content-Length", "1000")
        self.end_headers()
        self.wfile.write(b": keep-alive\n\n")

    do_GET = do_POST

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def breaking_server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), BreaksBeforeText)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_a_stream_that_breaks_before_any_text_fails_over(two_servers, breaking_server) -> None:
    (url_a, script_a), _ = two_servers
    with OpenAICompatGenerator([breaking_server, url_a], model="m", retries=0, recheck_after=60) as gen:
        results = [gen.generate(HI, max_tokens=2) for _ in range(3)]
        broken = gen.replicas.status()[0]
    assert [r.text for r in results] == ["A"] * 3 and results[0].completion_tokens == 1
    assert broken["up"] is False and "stream broke" in broken["last_error"]


def test_a_lone_server_whose_stream_breaks_is_unavailable(breaking_server) -> None:
    with OpenAICompatGenerator(breaking_server, model="m", retries=0) as gen:
        with pytest.raises(GeneratorUnavailableError, match="broke during streaming"):
            gen.generate(HI, max_tokens=2)


def test_replica_states_are_prometheus_gauges() -> None:
    from rag.api.metrics import Metrics

    pool = Replicas(["http://a", "http://b"], probe=lambda root: False, recheck_after=60)
    pool.mark_down("http://b", "ConnectError")
    pool.acquire("http://a")
    metrics = Metrics()
    metrics.observe_replicas(pool)
    text = metrics.render()[0].decode()
    assert 'rag_generator_replica_up{replica="0"} 1.0' in text
    assert 'rag_generator_replica_up{replica="1"} 0.0' in text
    assert 'rag_generator_replica_in_flight{replica="0"} 1.0' in text
    assert "http://a" not in text  # /metrics is open: no internal URLs


def test_the_metrics_endpoint_reports_each_replica(settings, two_servers) -> None:
    from fastapi.testclient import TestClient

    from rag.api import create_app

    (url_a, _), (url_b, _) = two_servers
    configured = settings.model_copy(update={"generator_backend": "openai", "generator_model": "m",
                                             "generator_base_url": f"{url_a}/v1,{url_b}/v1"})
    app = create_app(configured, warm_up=False)
    with TestClient(app, base_url="http://127.0.0.1") as client:
        assert app.state.service.generator.generate(HI, max_tokens=2).text in {"A", "B"}
        text = client.get("/metrics").text
    assert 'rag_generator_replica_up{replica="0"} 1.0' in text and 'rag_generator_replica_up{replica="1"} 1.0' in text
