"""Pydantic models shared by the engine, the CLI, the HTTP server and the SDK.

This module imports nothing heavy, so the SDK can use it without torch or faiss.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field


class DocumentInfo(BaseModel):
    """A document stored in a collection."""

    doc_id: int
    source: str = Field(description="Absolute path (or upload name) of the source file.")
    title: str
    content_hash: str = Field(description="sha256 of the file's bytes.")
    mtime: float | None = Field(None, description="The file's modification time (epoch seconds).")
    size: int = Field(0, description="The file's size in bytes.")
    pages: int
    chunks: int
    kind: str = Field(description="pdf, text, markdown or html.")
    ingested_at: datetime
    tags: list[str] = Field(default_factory=list)


class ChunkHit(BaseModel):
    """One retrieved chunk with where it came from."""

    chunk_id: int
    doc_id: int
    source: str
    title: str
    page: int | None = Field(None, description="1-based page number for paged formats (PDF), else null.")
    start: int = Field(description="Character offset of the chunk in its page's (or document's) text.")
    end: int
    text: str
    score: float = Field(description="Ranking score: cosine (dense), BM25 (lexical) or fused (hybrid).")
    dense_score: float | None = Field(None, description="Cosine similarity to the query, when dense retrieval ran.")
    lexical_score: float | None = Field(None, description="BM25 score, when lexical retrieval ran.")
    rerank_score: float | None = None


class ShardFailure(BaseModel):
    """A shard of a sharded collection that did not answer a search."""

    shard: str = Field(description="The shard, e.g. 'docs#2'.")
    stage: str = Field(description="The step it failed in: dense, term_stats, lexical or hits.")
    reason: Literal["timeout", "error"]
    message: str


class SearchResponse(BaseModel):
    """Result of a retrieval request."""

    query: str
    collection: str
    mode: str = "dense"
    hits: list[ChunkHit]
    seconds: float
    partial: bool = Field(False, description="True when some shard of a sharded collection did not answer: "
                          "the hits come from the other shards only (see failed_shards).")
    failed_shards: list[ShardFailure] = Field(default_factory=list)


FileStatus = Literal["ingested", "replaced", "unchanged", "failed", "pruned"]


class FileResult(BaseModel):
    """What ingestion did with one file."""

    path: str
    status: FileStatus
    reason: str | None = None
    doc_id: int | None = None
    pages: int = 0
    chunks: int = 0
    seconds: float = 0.0


class IngestSummary(BaseModel):
    """The summary of one ingestion run."""

    collection: str
    files: list[FileResult]
    ingested: int = 0
    replaced: int = 0
    unchanged: int = 0
    failed: int = 0
    pruned: int = 0
    pages: int = 0
    chunks: int = 0
    seconds: float = 0.0
    timings: dict[str, float] = Field(default_factory=dict, description="Seconds spent per stage.")

    @classmethod
    def from_files(
        cls, collection: str, files: list[FileResult], seconds: float, timings: dict[str, float]
    ) -> "IngestSummary":
        """Build a summary and its counts from per-file results."""
        counts = {s: sum(1 for f in files if f.status == s) for s in ("ingested", "replaced", "unchanged", "failed", "pruned")}
        return cls(
            collection=collection,
            files=files,
            pages=sum(f.pages for f in files if f.status in ("ingested", "replaced")),
            chunks=sum(f.chunks for f in files if f.status in ("ingested", "replaced")),
            seconds=seconds,
            timings=timings,
            **counts,
        )


class CollectionInfo(BaseModel):
    """A collection and its size."""

    name: str
    embedding_model: str
    dimension: int
    index_type: str
    documents: int
    chunks: int
    created_at: datetime
    shards: int | None = Field(None, description="How many shards a sharded collection has; null for one index.")


class ModelInfo(BaseModel):
    """A provisioned (or provisionable) model."""

    name: str
    kind: Literal["encoder", "generator"]
    path: str | None = None
    present: bool = False
    size_bytes: int | None = None
    description: str = ""


# --------------------------------------------------------------------------- query service

RetrievalMode = Literal["hybrid", "dense", "bm25"]

#: Longest question accepted, in characters.
MAX_QUERY_CHARS = 4000


class SearchFilters(BaseModel):
    """Restrict retrieval to some documents. Conditions combine with AND."""

    # Hard bounds; the server's max_filter_items is usually tighter.
    doc_ids: list[int] | None = Field(None, max_length=10_000, description="Only these documents.")
    source: str | None = Field(None, max_length=1000,
                               description="Shell-style pattern on the source path, e.g. '*/reports/*.pdf'.")
    tags: list[str] | None = Field(None, max_length=10_000,
                                   description="Documents carrying at least one of these tags.")


class RetrieveRequest(BaseModel):
    """Find the passages of a collection that best match a query."""

    query: str = Field(min_length=1, max_length=MAX_QUERY_CHARS)
    k: int = Field(5, ge=1, le=100, description="How many passages to return.")
    mode: RetrievalMode = "hybrid"
    filters: SearchFilters | None = None


class ShardSearch(BaseModel):
    """One step of a search, asked of one shard of a sharded collection (``/v1/shards``).

    Ids are the shard's own; ``stats`` are the collection-wide BM25 statistics
    (:class:`rag.store.lexical_terms.TermStats` as a dict) for the lexical step.
    """

    query: str = Field("", max_length=MAX_QUERY_CHARS)
    vector: list[float] | None = Field(None, max_length=8192)
    k: int = Field(0, ge=0, le=10_000)
    filters: SearchFilters | None = None
    stats: dict | None = None
    scored: list[tuple[int, float]] | None = Field(None, max_length=10_000)


class AskRequest(RetrieveRequest):
    """Ask a question; the answer rests on the retrieved passages only."""

    max_tokens: int = Field(384, ge=1, le=4096, description="Longest answer, in generator tokens.")
    temperature: float = Field(0.0, ge=0.0, le=2.0)


class Citation(BaseModel):
    """Where an inline marker ``[n]`` of the answer points."""

    marker: int = Field(description="The n of [n] in the answer text.")
    chunk_id: int
    doc_id: int
    source: str
    title: str
    page: int | None
    start: int = Field(description="Character offset of the quote in its page's (or document's) text.")
    end: int
    quote: str = Field(description="The exact passage text cited.")


class SentenceSupport(BaseModel):
    """How well one answer sentence is supported by the passages."""

    text: str
    markers: list[int] = Field(default_factory=list, description="Citation markers in the sentence.")
    support: float | None = Field(None, description="0..1 support score from the verifier, if one ran.")
    supported: bool | None = None


class AskResponse(BaseModel):
    """A grounded answer, or an abstention, with its sources and timings."""

    question: str
    collection: str
    answer: str = Field(description="Answer text with inline [n] markers; the abstention message when answerable is false.")
    answerable: bool = Field(description="False when the documents do not hold the answer.")
    reason: str | None = Field(None, description="Why the service abstained, when it did.")
    citations: list[Citation] = Field(default_factory=list)
    passages: list[ChunkHit] = Field(default_factory=list, description="The passages given to the model, numbered from 1.")
    sentences: list[SentenceSupport] = Field(default_factory=list)
    groundedness: float | None = Field(None, description="Share of the answer supported by the passages (0..1).")
    answerable_score: float | None = Field(
        None, description="The model's belief (0..1) that the passages answer the question, read from its first "
        "token before it writes anything (P(best answer word) / (that + P(NOT FOUND))); the service abstains "
        "at or below RAG_ANSWERABLE_THRESHOLD. None when the service abstained before asking the model.")
    first_tokens: dict[str, float] | None = Field(
        None, description="The model's likeliest first tokens with their log-probabilities, behind answerable_score.")
    model: str = ""
    timings: dict[str, float] = Field(default_factory=dict, description="Seconds: retrieve, generate, first_token, total.")


class StreamEvent(BaseModel):
    """One server-sent event of a streamed answer.

    ``passages`` comes first, then ``token`` deltas, then ``done`` with the full
    :class:`AskResponse` (citations resolved), or ``error``.
    """

    event: Literal["passages", "token", "done", "error"]
    passages: list[ChunkHit] | None = None
    delta: str | None = None
    response: AskResponse | None = None
    error: dict | None = None


class CreateCollectionRequest(BaseModel):
    """Create an empty collection."""

    name: str = Field(min_length=1, max_length=64)


#: ``interrupted``: the server stopped during the job and its files were gone when it restarted.
JobState = Literal["queued", "running", "succeeded", "failed", "interrupted"]


class IngestJob(BaseModel):
    """A background ingestion started by an upload."""

    job_id: str
    collection: str
    state: JobState
    files_total: int
    files_done: int = 0
    results: list[FileResult] = Field(default_factory=list)
    summary: IngestSummary | None = None
    error: str | None = None
    created_at: datetime
    resumed: bool = Field(False, description="Picked up again after a server restart interrupted it.")


class ErrorBody(BaseModel):
    """The ``error`` member of every HTTP error response."""

    type: str
    message: str


class ErrorResponse(BaseModel):
    """Every HTTP error response: ``{"error": {"type": ..., "message": ...}}``."""

    error: ErrorBody


class Health(BaseModel):
    """Liveness and readiness."""

    status: Literal["ok", "loading", "error"]
    detail: dict[str, str] = Field(default_factory=dict)
