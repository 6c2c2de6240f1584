"""Protocols of the retrieval stage."""

from __future__ import annotations

from typing import Protocol, Sequence

from rag.schemas import ChunkHit, RetrieveRequest


class Retriever(Protocol):
    """Ranks a collection's chunks for a request."""

    def retrieve(self, collection, request: RetrieveRequest) -> list[ChunkHit]:
        """The best ``request.k`` chunks of ``collection`` (a :class:`rag.store.collection.Collection`)."""
        ...


class Reranker(Protocol):
    """Reorders retrieved chunks, e.g. with a cross-encoder."""

    name: str

    def rerank(self, query: str, hits: Sequence[ChunkHit], k: int) -> list[ChunkHit]:
        """The best ``k`` of ``hits`` for ``query``, best first, with ``rerank_score`` set."""
        ...
