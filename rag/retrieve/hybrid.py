"""Dense (FAISS) + lexical (BM25) retrieval fused by reciprocal rank, optional reranking."""

from __future__ import annotations

from rag.retrieve.base import Reranker
from rag.retrieve.fusion import reciprocal_rank_fusion
from rag.schemas import ChunkHit, RetrieveRequest

#: Candidates taken from each retriever before fusion, at least.
MIN_CANDIDATES = 50


class HybridRetriever:
    """The default retriever.

    ``mode`` per request: ``dense`` (cosine over FAISS), ``bm25`` (lexical) or
    ``hybrid`` (both, fused by reciprocal rank). Filters apply to both sides. With a
    reranker, the fused candidates are reordered before the top ``k`` are kept.

    Example:
        >>> r = HybridRetriever(embedder)  # doctest: +SKIP
        >>> r.retrieve(collection, RetrieveRequest(query="refund policy", k=5))  # doctest: +SKIP
    """

    def __init__(self, embedder, reranker: Reranker | None = None) -> None:
        self.embedder = embedder
        self.reranker = reranker

    def retrieve(self, collection, request: RetrieveRequest) -> list[ChunkHit]:
        allowed = collection.allowed_ids(request.filters)
        depth = max(MIN_CANDIDATES, 4 * request.k) if (self.reranker or request.mode == "hybrid") else request.k
        dense, lexical = [], []
        if request.mode in ("dense", "hybrid"):
            dense = collection.dense_ids(self.embedder.embed_query(request.query), depth, allowed)
        if request.mode in ("bm25", "hybrid"):
            lexical = collection.lexical_ids(request.query, depth, allowed)
        if request.mode == "hybrid":
            ranked = reciprocal_rank_fusion(dense, lexical)
        else:
            ranked = dense or lexical
        keep = ranked if self.reranker else ranked[: request.k]
        hits = collection.hits(keep)
        dense_scores, lexical_scores = dict(dense), dict(lexical)
        for hit in hits:
            hit.dense_score = dense_scores.get(hit.chunk_id)
            hit.lexical_score = lexical_scores.get(hit.chunk_id)
        if self.reranker:
            hits = self.reranker.rerank(request.query, hits, request.k)
        return hits[: request.k]
