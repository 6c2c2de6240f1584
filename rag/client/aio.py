"""``AsyncRAGClient``: the asyncio SDK, the same surface as :class:`rag.client.RAGClient`."""

from __future__ import annotations

import asyncio
import time
from contextlib import ExitStack
from pathlib import Path
from typing import AsyncIterator, Iterable

import httpx

from rag import __version__
from rag.client import _calls as calls
from rag.client._sse import SSEDecoder
from rag.client.errors import ConnectionFailed, error_from_event, error_from_response
from rag.schemas import AskResponse, CollectionInfo, DocumentInfo, Health, IngestJob, SearchResponse, StreamEvent


class AsyncRAGClient:
    """An asyncio client of the groundrag HTTP API (arguments as :class:`RAGClient`).

    Example:
        >>> async with AsyncRAGClient("http://127.0.0.1:8000") as rag:            # doctest: +SKIP
        ...     async for event in rag.ask_stream("handbook", "How many vacation days?"):
        ...         print(event.delta or "", end="")
    """

    def __init__(self, base_url: str = "http://127.0.0.1:8000", *, api_key: str | None = None,
                 timeout: float = 300.0, retries: int = 3, backoff: float = 0.5,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.root = calls.root_url(base_url)
        self.retries = max(0, retries)
        self.backoff = backoff
        headers = {"User-Agent": f"groundrag-client/{__version__}"}
        if api_key:
            headers["Authorization"] = f"Bearer {api_key}"
        self._http = httpx.AsyncClient(base_url=self.root, headers=headers, transport=transport,
                                       timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)))

    async def close(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> AsyncRAGClient:
        return self

    async def __aexit__(self, *exc) -> None:
        await self.close()

    # ------------------------------------------------------------------ plumbing
    async def _send(self, call: calls.Call, *, stream: bool = False) -> httpx.Response:
        for attempt in range(self.retries + 1):
            last = attempt == self.retries
            with ExitStack() as stack:
                files = None
                if call.files:
                    files = calls.multipart(call.files, [stack.enter_context(open(p, "rb")) for p in call.files])
                try:
                    request = self._http.build_request(call.method, call.path, json=call.json, files=files,
                                                       headers=call.headers)
                    response = await self._http.send(request, stream=stream)
                except httpx.TransportError as exc:
                    if last or not calls.retryable(exc, call.method):
                        raise calls.transport_error(exc, self.root, attempt + 1) from None
                    await asyncio.sleep(calls.delay(attempt, self.backoff))
                    continue
            if response.status_code < 400 or response.status_code in call.accept:
                return response
            content = await response.aread()
            await response.aclose()
            if last or response.status_code not in calls.RETRY_STATUS:
                raise error_from_response(response.status_code, content)
            await asyncio.sleep(calls.delay(attempt, self.backoff, response.headers.get("retry-after")))
        raise AssertionError("unreachable")  # pragma: no cover

    async def _call(self, call: calls.Call):
        return call.parse((await self._send(call)).content)

    # ------------------------------------------------------------------ answering
    async def ask(self, collection: str, question: str, **opts) -> AskResponse:
        """See :meth:`RAGClient.ask`."""
        return await self._call(calls.ask(collection, question, opts))

    async def ask_stream(self, collection: str, question: str, **opts) -> AsyncIterator[StreamEvent]:
        """See :meth:`RAGClient.ask_stream`; use with ``async for``."""
        response = await self._send(calls.ask_stream(collection, question, opts), stream=True)
        decoder = SSEDecoder()
        try:
            async for line in response.aiter_lines():
                item = decoder.feed(line)
                if item is not None:
                    yield _event(*item)
            item = decoder.flush()
            if item is not None:
                yield _event(*item)
        except httpx.TransportError as exc:
            raise ConnectionFailed(f"the answer stream from {self.root} broke ({type(exc).__name__})") from None
        finally:
            await response.aclose()

    async def retrieve(self, collection: str, query: str, **opts) -> SearchResponse:
        return await self._call(calls.retrieve(collection, query, opts))

    # ------------------------------------------------------------------ collections
    async def list_collections(self) -> list[CollectionInfo]:
        return await self._call(calls.list_collections())

    async def create_collection(self, name: str) -> CollectionInfo:
        return await self._call(calls.create_collection(name))

    async def delete_collection(self, name: str) -> None:
        await self._call(calls.delete_collection(name))

    # ------------------------------------------------------------------ documents
    async def upload(self, collection: str, paths: str | Path | Iterable[str | Path]) -> IngestJob:
        return await self._call(calls.upload(collection, paths))

    async def job(self, job_id: str) -> IngestJob:
        return await self._call(calls.job(job_id))

    async def wait_for_job(self, job_id: str, timeout: float = 600.0, poll: float = 0.5) -> IngestJob:
        deadline = time.monotonic() + timeout
        while True:
            current = await self.job(job_id)
            if current.state in calls.FINISHED:
                return current
            if time.monotonic() >= deadline:
                raise calls.job_timeout(job_id, timeout, current)
            await asyncio.sleep(poll)

    async def list_documents(self, collection: str) -> list[DocumentInfo]:
        return await self._call(calls.list_documents(collection))

    async def delete_document(self, collection: str, doc_id: int) -> None:
        await self._call(calls.delete_document(collection, doc_id))

    # ------------------------------------------------------------------ health
    async def health(self) -> Health:
        return await self._call(calls.health())

    async def ready(self) -> Health:
        return await self._call(calls.ready())


def _event(name: str | None, data: str) -> StreamEvent:
    event = calls.parse_event(name, data)
    if event.event == "error":
        raise error_from_event(event.error)
    return event
