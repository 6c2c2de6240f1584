"""Generation through any OpenAI-compatible HTTP server (``vllm serve`` in production).

Speaks ``/v1/chat/completions`` (SSE streaming, ``logprobs``/``top_logprobs``) and
``/v1/models`` with plain httpx. Token counts are exact and in-process with the served
model's tokenizer when it loads offline (see :mod:`rag.generate.tokenizer`), else they
come from vLLM's ``/tokenize`` (other servers fall back to an estimate). Connection
errors, 429 and 5xx answers are retried with exponential backoff before the first byte
of a reply; a server that stays unreachable raises :class:`GeneratorUnavailableError`
naming its URL.

Several replicas of the same server may be given (a list, or URLs separated by commas):
each request goes to the least busy replica that is up (see :mod:`rag.generate.replicas`);
one that refuses a connection, or breaks before it streamed any text, is taken out of the
rotation and the request moves on to the next; a background probe puts it back when it
answers again. Only when every replica fails does the request fail, naming each one.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import threading
import time
from collections.abc import Iterator, Sequence
from typing import Any

from .base import TOP_LOGPROBS, Chunk, GeneratorBase, Messages, as_dicts, best_allowed
from .errors import GeneratorError, GeneratorUnavailableError
from .replicas import RECHECK_AFTER, Replicas, split_urls

log = logging.getLogger(__name__)

RETRY_STATUS = frozenset({429, 500, 502, 503, 504})
#: Seconds a health probe of a replica may take.
PROBE_TIMEOUT = 3.0
#: Characters per token assumed when the server cannot tokenize (English prose ~4).
CHARS_PER_TOKEN = 4.0


class OpenAICompatGenerator(GeneratorBase):
    """A :class:`~rag.generate.base.Generator` backed by an OpenAI-compatible server.

    Args:
        base_url: the server, with or without the ``/v1`` suffix
            (``http://127.0.0.1:8001`` and ``http://127.0.0.1:8001/v1`` are the same);
            or several replicas serving the same model, as a list or separated by commas.
        model: model name to request; empty asks ``/v1/models`` and uses the first.
        api_key: sent as ``Authorization: Bearer <key>`` when given.
        timeout: seconds to wait for connecting and between bytes of a reply.
        retries: extra attempts after a connection error, 429 or 5xx.
        backoff: first retry delay in seconds; doubles each attempt (capped at 8 s).
        context_window: an upper bound on the window; the server's ``max_model_len`` wins if smaller.
        tokenizer: Hugging Face id or folder of the tokenizer that counts prompt tokens
            locally; empty tries the model the server reports (``root`` in ``/v1/models``)
            and the served id. Without one that loads offline, counts come from the server.
        recheck_after: seconds before a replica taken out of the rotation is probed again.

    Example:
        >>> gen = OpenAICompatGenerator("http://127.0.0.1:8001/v1")          # doctest: +SKIP
        >>> "".join(gen.stream([{"role": "user", "content": "Hi"}], max_tokens=8))  # doctest: +SKIP
    """

    def __init__(
        self,
        base_url: str | Sequence[str],
        *,
        model: str | None = None,
        api_key: str | None = None,
        timeout: float = 120.0,
        retries: int = 3,
        backoff: float = 0.5,
        context_window: int | None = None,
        tokenizer: str | None = None,
        recheck_after: float = RECHECK_AFTER,
    ) -> None:
        roots = split_urls(base_url)
        if not roots:
            from rag.errors import ConfigError

            raise ConfigError("no generator server URL given (set RAG_GENERATOR_BASE_URL)")
        self.root = roots[0]  # the first replica: error messages about the model name it
        self.base_url = self.root + "/v1"
        self.replicas = Replicas(roots, probe=self._probe, recheck_after=recheck_after)
        self._model = model or None
        self.api_key = api_key
        self.timeout = timeout
        self.retries = max(0, retries)
        self.backoff = backoff
        self._window_cap = context_window or None
        self._server_window: int | None = None
        self._can_tokenize: bool | None = None
        self._tokenizer_name = tokenizer or None
        self._model_root: str | None = None
        self._local_count: Any = None  # None: not tried yet; False: none loads offline
        self._client: Any = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        urls = self.base_url if len(self.replicas) == 1 else [r + "/v1" for r in self.replicas.roots]
        return f"OpenAICompatGenerator({urls!r}, model={self._model!r})"

    # -- HTTP plumbing --------------------------------------------------------

    @property
    def client(self) -> Any:
        """The shared ``httpx.Client`` (created on first use; thread-safe)."""
        if self._client is None:
            import httpx

            with self._lock:
                if self._client is None:
                    headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
                    timeout = httpx.Timeout(self.timeout, connect=min(self.timeout, 10.0))
                    self._client = httpx.Client(timeout=timeout, headers=headers)
        return self._client

    def close(self) -> None:
        """Close the HTTP connections (the generator can still be used afterwards)."""
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None

    def __enter__(self) -> OpenAICompatGenerator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextlib.contextmanager
    def _request(
        self, method: str, path: str, *, body: dict | None = None, stream: bool = False, exclude: Sequence[str] = (),
    ) -> Iterator[tuple[str, Any]]:
        """A successful response from one replica (skipping ``exclude``), as ``(root, response)``;
        the replica counts it in flight until the block ends, and the response is closed then."""
        root, response = self._send(method, path, body=body, stream=stream, exclude=exclude)
        try:
            yield root, response
        finally:
            response.close()
            self.replicas.release(root)

    def _send(
        self, method: str, path: str, *, body: dict | None = None, stream: bool = False, exclude: Sequence[str] = (),
    ) -> tuple[str, Any]:
        """Send to the replicas in turn, with rounds of retries; return ``(root, response)`` of the
        first success (its replica acquired: the caller releases it) or raise a domain error."""
        import httpx

        for attempt in range(self.retries + 1):
            delay: float | None = None
            error: GeneratorError | None = None  # the last retryable HTTP answer of this round
            candidates = self.replicas.candidates(exclude)
            if not candidates:
                break
            for root in candidates:
                url = root + path
                self.replicas.acquire(root)
                try:
                    request = self.client.build_request(method, url, json=body)
                    response = self.client.send(request, stream=stream)
                except (httpx.ConnectError, httpx.ConnectTimeout, httpx.RemoteProtocolError) as exc:
                    self.replicas.release(root)
                    self.replicas.mark_down(root, f"{type(exc).__name__}: {exc}")
                    continue
                except httpx.TimeoutException as exc:
                    self.replicas.release(root)
                    raise GeneratorUnavailableError(
                        f"the generator server at {root} did not answer within {self.timeout:g} s", url=url
                    ) from exc
                except BaseException:
                    self.replicas.release(root)
                    raise
                if response.status_code < 400:
                    self.replicas.mark_up(root)
                    return root, response
                if stream:
                    response.read()
                response.close()
                self.replicas.release(root)
                if response.status_code not in RETRY_STATUS:
                    raise self._http_error(response, root, url)
                error = self._http_error(response, root, url)
                delay = max(delay or 0.0, self._delay(attempt, response.headers.get("retry-after")))
            if attempt == self.retries:
                break
            delay = self._delay(attempt, None) if delay is None else delay
            log.warning("generator server %s: retrying in %.1f s (attempt %d)",
                        ", ".join(self.replicas.roots), delay, attempt + 1)
            time.sleep(delay)
        if error is not None:
            raise error
        raise self._unreachable(path, self.retries + 1)

    def _unreachable(self, path: str, rounds: int) -> GeneratorUnavailableError:
        if len(self.replicas) == 1:
            return GeneratorUnavailableError(
                f"cannot reach the generator server at {self.root} ({self.replicas.last_error(self.root)}) "
                f"after {rounds} attempt(s)", url=self.root + path,
            )
        return GeneratorUnavailableError(
            f"none of the {len(self.replicas)} generator replicas could be reached after {rounds} attempt(s) "
            f"each: {self.replicas.describe_down()}", urls=[r + path for r in self.replicas.roots],
        )

    def _probe(self, root: str) -> bool:
        """True when the replica at ``root`` answers ``GET /health`` (vLLM), or ``GET /v1/models``."""
        import httpx

        try:
            status = self.client.get(root + "/health", timeout=PROBE_TIMEOUT).status_code
            if status == 404:
                status = self.client.get(root + "/v1/models", timeout=PROBE_TIMEOUT).status_code
        except httpx.HTTPError:
            return False
        return status == 200

    def _delay(self, attempt: int, retry_after: str | None) -> float:
        if retry_after:
            try:
                return min(float(retry_after), 30.0)
            except ValueError:
                pass
        return min(self.backoff * 2**attempt, 8.0)

    def _http_error(self, response: Any, root: str, url: str) -> GeneratorError:
        try:
            err = response.json()
            message = (err.get("error") or {}).get("message") if isinstance(err.get("error"), dict) else None
            message = message or err.get("message") or err.get("detail") or response.text
        except ValueError:
            message = response.text
        status = response.status_code
        cls = GeneratorUnavailableError if status in (429, 503) else GeneratorError
        hint = " (check the API key)" if status in (401, 403) else ""
        return cls(
            f"generator server {root} answered {status}{hint}: {str(message)[:500]}",
            url=url,
            upstream_status=status,
        )

    def _json(self, method: str, path: str, body: dict | None = None) -> dict:
        with self._request(method, path, body=body) as (root, response):
            try:
                return response.json()
            except ValueError as exc:
                raise GeneratorError(f"generator server {root} sent invalid JSON for {path}") from exc

    # -- discovery --------------------------------------------------------------

    @property
    def model(self) -> str:
        """The model name sent with each request (asks ``/v1/models`` if none was given)."""
        if self._model is None:
            self._discover()
        return self._model  # type: ignore[return-value]

    @property
    def name(self) -> str:
        """The served model's id."""
        return self.model

    def _discover(self) -> None:
        data = self._json("GET", "/v1/models").get("data") or []
        if not data:
            raise GeneratorError(f"generator server {self.root} serves no model (GET /v1/models is empty)")
        wanted = next((m for m in data if m.get("id") == self._model), data[0]) if self._model else data[0]
        self._model = self._model or wanted["id"]
        self._model_root = wanted.get("root") or None
        if wanted.get("max_model_len"):
            self._server_window = int(wanted["max_model_len"])

    @property
    def context_window(self) -> int:
        """The server's ``max_model_len`` (vLLM), capped by the configured window."""
        if self._server_window is None:
            self._discover()
        windows = [w for w in (self._server_window, self._window_cap) if w]
        if not windows:
            raise GeneratorError(
                f"generator server {self.root} does not report its context window; set it in the settings"
            )
        return min(windows)

    def count_tokens(self, text: str) -> int:
        """Exact count with the local tokenizer, else through vLLM's ``/tokenize``; an
        estimate (chars / 4) on other servers."""
        count = self._local_counter()
        if count:
            return count(text)
        if self._can_tokenize is not False:
            body = {"model": self.model, "prompt": text, "add_special_tokens": False}
            try:
                reply = self._json("POST", "/tokenize", body)
                self._can_tokenize = True
                return int(reply["count"])
            except GeneratorUnavailableError:
                raise
            except (GeneratorError, KeyError, TypeError) as exc:
                if self._can_tokenize:  # it worked before: a real error, not a missing endpoint
                    raise
                log.warning("%s has no usable /tokenize (%s); estimating token counts", self.root, exc)
                self._can_tokenize = False
        return math.ceil(len(text) / CHARS_PER_TOKEN)

    def _local_counter(self) -> Any:
        """The local token counter, loaded once (False when none loads offline)."""
        if self._local_count is None:
            names = [self._tokenizer_name] if self._tokenizer_name else None
            if names is None:
                model = self.model  # asks /v1/models: the card names the model the server loaded
                names = [self._model_root or "", model]
            from .tokenizer import local_counter

            found = local_counter(names)
            with self._lock:
                if self._local_count is None:
                    self._local_count = found[0] if found else False
            if found:
                log.info("counting prompt tokens locally with the tokenizer of %s", found[1])
        return self._local_count

    # -- the Generator primitives ----------------------------------------------

    def _body(self, messages: Messages, **params: Any) -> dict:
        body = {"model": self.model, "messages": as_dicts(messages)}
        body.update({k: v for k, v in params.items() if v is not None})
        return body

    def stream_chunks(
        self, messages: Messages, *, max_tokens: int, temperature: float = 0.0, stop: list[str] | None = None,
        avoid_first: Sequence[str] | None = None,
    ) -> Iterator[Chunk]:
        """Stream SSE deltas of ``/v1/chat/completions``; the last chunk carries usage.

        With ``avoid_first``, the first token is the likeliest allowed one of the
        server's top log-probabilities, and the reply is continued after it as a
        partial assistant message (vLLM's ``continue_final_message``; the server's
        prefix cache makes the second request cheap).
        """
        extra: dict[str, Any] = {}
        lead = best_allowed(self.first_token_logprobs(messages), avoid_first) if avoid_first and max_tokens > 1 else None
        if lead is not None:
            messages = [*as_dicts(messages), {"role": "assistant", "content": lead}]
            extra = {"continue_final_message": True, "add_generation_prompt": False}
            max_tokens -= 1
            yield Chunk(text=lead)
        body = self._body(
            messages,
            max_tokens=max_tokens,
            temperature=temperature,
            stop=stop or None,
            stream=True,
            stream_options={"include_usage": True},
            **extra,
        )
        failed: list[str] = []  # replicas whose stream broke before any text
        while True:
            finish: str | None = None
            usage: dict = {}
            with self._request("POST", "/v1/chat/completions", body=body, stream=True, exclude=failed) as (root, response):
                streamed = False
                try:
                    for event in _sse_events(response):
                        if "error" in event:
                            raise GeneratorError(f"generator server {root} failed mid-stream: {event['error']}",
                                                 url=root + "/v1/chat/completions")
                        usage = event.get("usage") or usage
                        for choice in event.get("choices") or []:
                            text = (choice.get("delta") or {}).get("content")
                            if text:
                                streamed = True
                                yield Chunk(text=text)
                            finish = choice.get("finish_reason") or finish
                except _transport_errors() as exc:
                    self.replicas.mark_down(root, f"stream broke: {type(exc).__name__}: {exc}")
                    failed.append(root)
                    if streamed or not self.replicas.candidates(failed):
                        raise GeneratorUnavailableError(f"connection to {root} broke during streaming: {exc}") from exc
                    log.warning("generator replica %s broke before any text; sending the request to another", root)
                    continue
            break
        completion = usage.get("completion_tokens")
        yield Chunk(
            finish_reason=finish,
            prompt_tokens=usage.get("prompt_tokens"),
            completion_tokens=None if completion is None else completion + (lead is not None),
        )

    def first_token_logprobs(self, messages: Messages, *, top_k: int = TOP_LOGPROBS) -> dict[str, float]:
        """Ask for one token with ``top_logprobs`` and return them as ``{token: logprob}``."""
        body = self._body(messages, max_tokens=1, temperature=0.0, logprobs=True, top_logprobs=top_k)
        reply = self._json("POST", "/v1/chat/completions", body)
        try:
            first = reply["choices"][0]["logprobs"]["content"][0]
        except (KeyError, IndexError, TypeError) as exc:
            raise GeneratorError(
                f"generator server {self.root} returned no logprobs; it must support logprobs/top_logprobs"
            ) from exc
        out: dict[str, float] = {}
        for item in first.get("top_logprobs") or [first]:
            token, lp = item["token"], float(item["logprob"])
            out[token] = math.log(math.exp(out[token]) + math.exp(lp)) if token in out else lp
        return out


def _sse_events(response: Any) -> Iterator[dict]:
    """Parse ``data:`` lines of a server-sent-event stream until ``[DONE]``."""
    for line in response.iter_lines():
        if not line.startswith("data:"):
            continue  # blank separators, comments (":"), "event:" lines
        data = line[5:].strip()
        if data == "[DONE]":
            return
        if data:
            yield json.loads(data)


def _transport_errors() -> tuple[type[BaseException], ...]:
    import httpx

    return (httpx.TransportError,)
