"""What both clients share: each endpoint as a :class:`Call` (method, path, body,
parser) and the retry policy. The sync and async clients differ only in how they send."""

from __future__ import annotations

import mimetypes
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable
from urllib.parse import quote

from pydantic import BaseModel, TypeAdapter

from rag.client.errors import ConnectionFailed, JobTimeout, RAGClientError, RequestTimeout
from rag.schemas import (
    AskResponse,
    CollectionInfo,
    DocumentInfo,
    Health,
    IngestJob,
    SearchResponse,
    StreamEvent,
)

#: Statuses retried (with backoff) before an error is raised.
RETRY_STATUS = frozenset({429, 503})
#: Methods safe to resend after the connection broke mid-request.
IDEMPOTENT = frozenset({"GET", "HEAD", "DELETE"})
FINISHED = ("succeeded", "failed", "interrupted")


@dataclass
class Call:
    """One API request and how to read its reply."""

    method: str
    path: str
    json: dict | None = None
    files: list[Path] | None = None
    parse: Callable[[bytes], Any] = lambda content: None
    #: Error statuses that are still an answer (``/readyz`` says 503 while loading).
    accept: tuple[int, ...] = ()
    headers: dict[str, str] = field(default_factory=dict)


def _model(cls) -> Callable[[bytes], Any]:
    return cls.model_validate_json


def _list_of(cls) -> Callable[[bytes], Any]:
    return TypeAdapter(list[cls]).validate_json


def _seg(name: str | int) -> str:
    return quote(str(name), safe="")


def _jsonable(value: Any) -> Any:
    return value.model_dump(exclude_none=True) if isinstance(value, BaseModel) else value


def ask_body(question: str, opts: dict, stream: bool = False) -> dict:
    """The request body; validation happens on the server (one source of truth)."""
    body = {"query": question, **{k: _jsonable(v) for k, v in opts.items() if v is not None}}
    if stream:
        body["stream"] = True
    return body


# ---------------------------------------------------------------------- endpoints
def ask(collection: str, question: str, opts: dict) -> Call:
    return Call("POST", f"/v1/collections/{_seg(collection)}/ask", json=ask_body(question, opts),
                parse=_model(AskResponse))


def ask_stream(collection: str, question: str, opts: dict) -> Call:
    return Call("POST", f"/v1/collections/{_seg(collection)}/ask", json=ask_body(question, opts, stream=True),
                headers={"Accept": "text/event-stream"})


def retrieve(collection: str, query: str, opts: dict) -> Call:
    return Call("POST", f"/v1/collections/{_seg(collection)}/retrieve", json=ask_body(query, opts),
                parse=_model(SearchResponse))


def list_collections() -> Call:
    return Call("GET", "/v1/collections", parse=_list_of(CollectionInfo))


def create_collection(name: str) -> Call:
    return Call("POST", "/v1/collections", json={"name": name}, parse=_model(CollectionInfo))


def delete_collection(name: str) -> Call:
    return Call("DELETE", f"/v1/collections/{_seg(name)}")


def upload(collection: str, paths: str | Path | Iterable[str | Path]) -> Call:
    if isinstance(paths, (str, Path)):
        paths = [paths]
    files = [Path(p) for p in paths]
    for p in files:
        if not p.is_file():
            raise RAGClientError(f"not a file: {p}")
    return Call("POST", f"/v1/collections/{_seg(collection)}/documents", files=files, parse=_model(IngestJob))


def job(job_id: str) -> Call:
    return Call("GET", f"/v1/jobs/{_seg(job_id)}", parse=_model(IngestJob))


def list_documents(collection: str) -> Call:
    return Call("GET", f"/v1/collections/{_seg(collection)}/documents", parse=_list_of(DocumentInfo))


def delete_document(collection: str, doc_id: int) -> Call:
    return Call("DELETE", f"/v1/collections/{_seg(collection)}/documents/{_seg(doc_id)}")


def health() -> Call:
    return Call("GET", "/healthz", parse=_model(Health))


def ready() -> Call:
    return Call("GET", "/readyz", parse=_model(Health), accept=(503,))


# ---------------------------------------------------------------------- plumbing
def root_url(base_url: str) -> str:
    """``http://host:port`` from a base URL given with or without ``/v1``."""
    root = base_url.rstrip("/")
    return root[: -len("/v1")] if root.endswith("/v1") else root


def multipart(files: list[Path], opened: list) -> list[tuple[str, tuple]]:
    return [("files", (p.name, fh, mimetypes.guess_type(p.name)[0] or "application/octet-stream"))
            for p, fh in zip(files, opened)]


def delay(attempt: int, backoff: float, retry_after: str | None = None) -> float:
    """Seconds before retry ``attempt`` (0-based): the server's Retry-After, else exponential."""
    if retry_after:
        try:
            return min(float(retry_after), 30.0)
        except ValueError:
            pass
    return min(backoff * 2**attempt, 8.0)


def retryable(exc: Exception, method: str) -> bool:
    """Retry when the request surely was not processed (no connection) or is idempotent."""
    import httpx

    if isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout)):
        return True
    return method in IDEMPOTENT and isinstance(exc, (httpx.ReadError, httpx.RemoteProtocolError, httpx.WriteError))


def transport_error(exc: Exception, root: str, attempts: int) -> RAGClientError:
    import httpx

    if isinstance(exc, httpx.TimeoutException) and not isinstance(exc, httpx.ConnectTimeout):
        return RequestTimeout(f"{root} did not answer in time ({type(exc).__name__})")
    return ConnectionFailed(f"cannot reach {root} ({type(exc).__name__}: {exc}) after {attempts} attempt(s)")


def parse_event(name: str | None, data: str) -> StreamEvent:
    return StreamEvent.model_validate_json(data)


def job_timeout(job_id: str, timeout: float, last: IngestJob) -> JobTimeout:
    return JobTimeout(f"job {job_id} is still {last.state} after {timeout:g} s "
                      f"({last.files_done}/{last.files_total} files done)")
