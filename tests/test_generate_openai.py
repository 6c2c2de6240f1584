"""OpenAICompatGenerator's HTTP behaviour: retries, errors, SSE parsing, fallbacks.

A scripted stdlib HTTP server on loopback plays the server, because a real vLLM
cannot be made to answer 503 or 429 on demand; the real-server tests live in
``test_generate_vllm.py``.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from rag.generate import GeneratorError, GeneratorUnavailableError
from rag.generate.openai_compat import OpenAICompatGenerator

Reply = tuple[int, dict[str, str], bytes]


class Script:
    """Replies queued per path; the last one repeats. Records requests."""

    def __init__(self) -> None:
        self.replies: dict[str, list[Reply]] = {}
        self.requests: list[tuple[str, dict[str, str], dict | None]] = []

    def add(self, path: str, status: int, body: object, headers: dict[str, str] | None = None) -> None:
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.replies.setdefault(path, []).append((status, {"Content-Type": "application/json", **(headers or {})}, raw))

    def next(self, path: str) -> Reply:
        queue = self.replies.get(path) or [(404, {}, b'{"detail": "Not Found"}')]
        return queue.pop(0) if len(queue) > 1 else queue[0]


@contextlib.contextmanager
def scripted_server(port: int = 0) -> Iterator[tuple[str, Script]]:
    """A loopback HTTP server answering from a :class:`Script` (on ``port``, or a free one)."""
    script = Script()

    class Handler(BaseHTTPRequestHandler):
        def _reply(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length)) if length else None
            script.requests.append((self.path, dict(self.headers), body))
            status, headers, raw = script.next(self.path)
            self.send_response(status)
            for k, v in headers.items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        do_GET = do_POST = _reply

        def log_message(self, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", script
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture
def server() -> Iterator[tuple[str, Script]]:
    with scripted_server() as served:
        yield served


def sse(*events: object) -> bytes:
    return b"".join(f"data: {json.dumps(e)}\n\n".encode() for e in events) + b"data: [DONE]\n\n"


def test_server_down_names_the_url_after_retries() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{s.getsockname()[1]}"
    gen = OpenAICompatGenerator(url + "/v1", model="m", retries=2, backoff=0.01)
    with pytest.raises(GeneratorUnavailableError, match=f"cannot reach the generator server at {url}") as info:
        gen.generate([{"role": "user", "content": "Hi"}], max_tokens=2)
    assert "3 attempt(s)" in info.value.message
    assert info.value.status_code == 503 and info.value.type == "generator_unavailable"


def test_retries_5xx_then_succeeds(server) -> None:
    url, script = server
    script.add("/v1/models", 503, {"error": {"message": "loading"}})
    script.add("/v1/models", 500, {"error": {"message": "oops"}})
    script.add("/v1/models", 200, {"data": [{"id": "smol", "max_model_len": 2048}]})
    gen = OpenAICompatGenerator(url, retries=2, backoff=0.01, context_window=4096)
    assert gen.model == "smol"
    assert gen.context_window == 2048  # the server's window is smaller than the cap
    assert len(script.requests) == 3


def test_429_honours_retry_after_and_gives_up_as_unavailable(server) -> None:
    url, script = server
    script.add("/v1/chat/completions", 429, {"error": {"message": "slow down"}}, {"Retry-After": "0"})
    gen = OpenAICompatGenerator(url, model="m", retries=1, backoff=5.0)
    with pytest.raises(GeneratorUnavailableError, match="429.*slow down"):
        gen.generate([{"role": "user", "content": "Hi"}], max_tokens=2)
    assert len(script.requests) == 2


def test_4xx_is_not_retried(server) -> None:
    url, script = server
    script.add("/v1/chat/completions", 400, {"error": {"message": "prompt too long", "type": "BadRequestError"}})
    gen = OpenAICompatGenerator(url, model="m", retries=3, backoff=0.01)
    with pytest.raises(GeneratorError, match="400: prompt too long") as info:
        gen.generate([{"role": "user", "content": "Hi"}], max_tokens=2)
    assert not isinstance(info.value, GeneratorUnavailableError)
    assert len(script.requests) == 1


def test_sse_stream_text_usage_and_request(server) -> None:
    url, script = server
    events = [
        {"choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}]},
        {"choices": [{"index": 0, "delta": {"content": "Hel"}, "finish_reason": None}]},
        {"choices": [{"index": 0, "delta": {"content": "lo"}, "finish_reason": "stop"}]},
        {"choices": [], "usage": {"prompt_tokens": 9, "completion_tokens": 2, "total_tokens": 11}},
    ]
    script.add("/v1/chat/completions", 200, sse(*events), {"Content-Type": "text/event-stream"})
    gen = OpenAICompatGenerator(url + "/v1/", model="m", api_key="sekret")
    assert list(gen.stream([{"role": "user", "content": "Hi"}], max_tokens=5)) == ["Hel", "lo"]
    out = gen.generate([{"role": "user", "content": "Hi"}], max_tokens=5, stop=["\n"])
    assert (out.text, out.prompt_tokens, out.completion_tokens, out.finish_reason) == ("Hello", 9, 2, "stop")
    path, headers, body = script.requests[-1]
    assert path == "/v1/chat/completions"
    assert headers["Authorization"] == "Bearer sekret"
    assert body["stream"] is True and body["stop"] == ["\n"] and body["max_tokens"] == 5
    assert body["messages"] == [{"role": "user", "content": "Hi"}]


def test_error_event_mid_stream(server) -> None:
    url, script = server
    body = sse({"choices": [{"delta": {"content": "a"}}]}, {"error": {"message": "engine died"}})
    script.add("/v1/chat/completions", 200, body, {"Content-Type": "text/event-stream"})
    gen = OpenAICompatGenerator(url, model="m")
    with pytest.raises(GeneratorError, match="engine died"):
        gen.generate([{"role": "user", "content": "Hi"}], max_tokens=5)


def test_yes_no_from_top_logprobs(server) -> None:
    url, script = server
    top = [{"token": "Yes", "logprob": -0.2}, {"token": " yes", "logprob": -3.0}, {"token": "No", "logprob": -1.9}]
    reply = {"choices": [{"logprobs": {"content": [{"token": "Yes", "logprob": -0.2, "top_logprobs": top}]}}]}
    script.add("/v1/chat/completions", 200, reply)
    gen = OpenAICompatGenerator(url, model="m")
    p = gen.yes_no_logprob([{"role": "user", "content": "Is it? yes or no"}])
    assert 0.8 < p < 0.9
    body = script.requests[-1][2]
    assert body["logprobs"] is True and body["top_logprobs"] == 20 and body["max_tokens"] == 1


def test_missing_logprobs_is_an_error(server) -> None:
    url, script = server
    script.add("/v1/chat/completions", 200, {"choices": [{"message": {"content": "Yes"}}]})
    with pytest.raises(GeneratorError, match="no logprobs"):
        OpenAICompatGenerator(url, model="m").yes_no_logprob([{"role": "user", "content": "?"}])


def test_count_tokens_falls_back_without_tokenize(server) -> None:
    url, script = server  # /tokenize answers 404
    gen = OpenAICompatGenerator(url, model="m")
    assert gen.count_tokens("x" * 40) == 10
    assert gen.count_tokens("") == 0
    assert len(script.requests) == 1  # the missing endpoint is asked about once


def test_count_tokens_uses_tokenize(server) -> None:
    url, script = server
    script.add("/tokenize", 200, {"count": 7, "max_model_len": 2048, "tokens": [1] * 7})
    gen = OpenAICompatGenerator(url, model="m")
    assert gen.count_tokens("whatever") == 7
    assert script.requests[-1][2] == {"model": "m", "prompt": "whatever", "add_special_tokens": False}


@pytest.fixture
def word_tokenizer(tmp_path):
    """A real (tiny, word-level) Hugging Face tokenizer folder, as a served model's would be."""
    pytest.importorskip("transformers")
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {"[UNK]": 0, **{w: i + 1 for i, w in enumerate("the answer is in passage one two".split())}}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]").save_pretrained(tmp_path / "tok")
    return tmp_path / "tok"


def test_count_tokens_locally_with_the_tokenizer_the_server_reports(server, word_tokenizer) -> None:
    url, script = server
    script.add("/v1/models", 200, {"data": [{"id": "served", "root": str(word_tokenizer), "max_model_len": 2048}]})
    gen = OpenAICompatGenerator(url)
    assert gen.count_tokens("the answer is in passage two") == 6
    assert gen.count_tokens("unknown words, here") == 4  # [UNK] [UNK] , [UNK]
    assert [path for path, _, _ in script.requests] == ["/v1/models"]  # no /tokenize round trip


def test_count_tokens_with_a_configured_tokenizer_needs_no_server(server, word_tokenizer) -> None:
    url, script = server
    assert OpenAICompatGenerator(url, tokenizer=str(word_tokenizer)).count_tokens("passage one") == 2
    assert script.requests == []


def test_count_tokens_asks_the_server_when_no_tokenizer_loads_offline(server) -> None:
    url, script = server
    script.add("/v1/models", 200, {"data": [{"id": "org/not-cached-anywhere", "root": "/no/such/folder"}]})
    script.add("/tokenize", 200, {"count": 5})
    gen = OpenAICompatGenerator(url)
    assert gen.count_tokens("a b") == 5 and gen.count_tokens("c d") == 5
    assert [path for path, _, _ in script.requests] == ["/v1/models", "/tokenize", "/tokenize"]
