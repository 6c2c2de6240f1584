"""``RAGClient``: the blocking SDK."""

from __future__ import annotations

import time
from contextlib import ExitStack
from pathlib import Path
from typing import Iterable, Iterator

import httpx

from rag import __version__
from rag.client import _calls as calls
from rag.client._sse import SSEDecoder
from rag.client.errors import ConnectionFailed, error_from_event, error_from_response
from rag.schemas import AskResponse, CollectionInfo, DocumentInfo, Health, IngestJob, SearchResponse, StreamEvent


class RAGClient:
    """A client of the groundrag HTTP API.

    Args:
        base_url: the server, e.g. ``http://127.0.0.1:8000`` (a trailing ``/v1`` is fine).
        api_key: sent as ``Authorization: Bearer <key>`` when the server needs one.
        timeout: seconds to wait for a reply (answers on a CPU can take a while).
        retries: extra attempts after a connection failure or a 503/429, with
            exponential backoff from ``backoff`` seconds; 4xx errors are never retried.
        transport: an ``httpx`` transport (tests, proxies).

    Raises:
        RAGClientError subclasses: :class:`~rag.client.errors.APIError` (with ``status``,
        ``type``, ``message``) for error replies, ``ConnectionFailed``, ``RequestTimeout``.

    Example:
        >>> with RAGClient("http://127.0.0.1:8000") as rag:                   # doctest: +SKIP
        ...     print(rag.ask("handbook", "How many vacation days?").answer)
    """

    def __init__(self, base_url: str = "http://127.0.0.1:8000", *, api_key: str | None = None,
                 timeout: float = 300.0, retries: int = 3, backoff: float = 0.5,
                 transport: httpx.BaseTransport | None = None) -> None:
        self.root = calls.root_url(base_url)
        self.retries = max(0, retries)
        self.backoff = backoff
        headers = {"User-Agent": f"groundrag-client/{__version__}"}
        if api_key:
            headers["Authorization"] = f"Bearer {api_key}"
        self._http = httpx.Client(base_url=self.root, headers=headers, transport=transport,
                                  timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)))

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> RAGClient:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ------------------------------------------------------------------ plumbing
    def _send(self, call: calls.Call, *, stream: bool = False) -> httpx.Response:
        """Send with retries; a successful (or accepted) response, else raise."""
        for attempt in range(self.retries + 1):
            last = attempt == self.retries
            with ExitStack() as stack:  # files are reopened for each attempt
                files = None
                if call.files:
                    files = calls.multipart(call.files, [stack.enter_context(open(p, "rb")) for p in call.files])
                try:
                    request = self._http.build_request(call.method, call.path, json=call.json, files=files,
                                                       headers=call.headers)
                    response = self._http.send(request, stream=stream)
                except httpx.TransportError as exc:
                    if last or not calls.retryable(exc, call.method):
                        raise calls.transport_error(exc, self.root, attempt + 1) from None
                    time.sleep(calls.delay(attempt, self.backoff))
                    continue
            if response.status_code < 400 or response.status_code in call.accept:
                return response
            content = response.read()
            response.close()
            if last or response.status_code not in calls.RETRY_STATUS:
                raise error_from_response(response.status_code, content)
            time.sleep(calls.delay(attempt, self.backoff, response.headers.get("retry-after")))
        raise AssertionError("unreachable")  # pragma: no cover

    def _call(self, call: calls.Call):
        return call.parse(self._send(call).content)

    # ------------------------------------------------------------------ answering
    def ask(self, collection: str, question: str, **opts) -> AskResponse:
        """A grounded answer with citations (or an abstention).

        ``opts`` are the other :class:`rag.schemas.AskRequest` fields: ``k``, ``mode``,
        ``filters``, ``max_tokens``, ``temperature``.
        """
        return self._call(calls.ask(collection, question, opts))

    def ask_stream(self, collection: str, question: str, **opts) -> Iterator[StreamEvent]:
        """Stream an answer: a ``passages`` event, ``token`` deltas, then ``done``.

        An error reported mid-stream is raised as an :class:`APIError` (``status`` None).
        """
        response = self._send(calls.ask_stream(collection, question, opts), stream=True)
        decoder = SSEDecoder()
        try:
            for line in response.iter_lines():
                item = decoder.feed(line)
                if item is not None:
                    yield _event(*item)
            item = decoder.flush()
            if item is not None:
                yield _event(*item)
        except httpx.TransportError as exc:
            raise ConnectionFailed(f"the answer stream from {self.root} broke ({type(exc).__name__})") from None
        finally:
            response.close()

    def retrieve(self, collection: str, query: str, **opts) -> SearchResponse:
        """The passages that best match ``query`` (opts: ``k``, ``mode``, ``filters``)."""
        return self._call(calls.retrieve(collection, query, opts))

    # ------------------------------------------------------------------ collections
    def list_collections(self) -> list[CollectionInfo]:
        return self._call(calls.list_collections())

    def create_collection(self, name: str) -> CollectionInfo:
        return self._call(calls.create_collection(name))

    def delete_collection(self, name: str) -> None:
        self._call(calls.delete_collection(name))

    # ------------------------------------------------------------------ documents
    def upload(self, collection: str, paths: str | Path | Iterable[str | Path]) -> IngestJob:
        """Upload files; they are ingested by a background job (see :meth:`wait_for_job`)."""
        return self._call(calls.upload(collection, paths))

    def job(self, job_id: str) -> IngestJob:
        return self._call(calls.job(job_id))

    def wait_for_job(self, job_id: str, timeout: float = 600.0, poll: float = 0.5) -> IngestJob:
        """Poll until the job has succeeded or failed; :class:`JobTimeout` after ``timeout`` s."""
        deadline = time.monotonic() + timeout
        while True:
            current = self.job(job_id)
            if current.state in calls.FINISHED:
                return current
            if time.monotonic() >= deadline:
                raise calls.job_timeout(job_id, timeout, current)
            time.sleep(poll)

    def list_documents(self, collection: str) -> list[DocumentInfo]:
        return self._call(calls.list_documents(collection))

    def delete_document(self, collection: str, doc_id: int) -> None:
        self._call(calls.delete_document(collection, doc_id))

    # ------------------------------------------------------------------ health
    def health(self) -> Health:
        """Liveness (``/healthz``)."""
        return self._call(calls.health())

    def ready(self) -> Health:
        """Readiness (``/readyz``): ``ok``, or ``loading``/``error`` while the models are not loaded."""
        return self._call(calls.ready())

    def wait_until_ready(self, timeout: float = 300.0, poll: float = 0.5) -> Health:
        """Wait for the server to start and load its models; returns the last readiness seen."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                health = self.ready()
                if health.status != "loading":
                    return health
            except ConnectionFailed:
                pass
            if time.monotonic() >= deadline:
                raise ConnectionFailed(f"{self.root} was not ready within {timeout:g} s")
            time.sleep(poll)


def _event(name: str | None, data: str) -> StreamEvent:
    event = calls.parse_event(name, data)
    if event.event == "error":
        raise error_from_event(event.error)
    return event
