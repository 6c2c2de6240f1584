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
    score: float


class SearchResponse(BaseModel):
    """Result of a retrieval request."""

    query: str
    collection: str
    hits: list[ChunkHit]
    seconds: float


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


class ModelInfo(BaseModel):
    """A provisioned (or provisionable) model."""

    name: str
    kind: Literal["encoder", "generator"]
    path: str | None = None
    present: bool = False
    size_bytes: int | None = None
    description: str = ""
