"""Dense (FAISS) + lexical (BM25) retrieval, fused by weighted scores or reciprocal rank, optional reranking."""

from __future__ import annotations

from rag.retrieve.base import Reranker
from rag.retrieve.fusion import DENSE_WEIGHT, Fusion, reciprocal_rank_fusion, weighted_fusion
from rag.schemas import ChunkHit, RetrieveRequest

#: Candidates taken from each retriever before fusion, at least.
MIN_CANDIDATES = 50
#: Candidates fetched beyond those kept, so that a tie at the cut-off can be left out.
TIE_MARGIN = 8


def canonical(collection, scored: list[tuple[int, float]], keep: int) -> list[tuple[int, float]]:
    """The first ``keep`` candidates in an order every layout of the same chunks agrees on.

    Neither FAISS nor BM25 orders equal scores, and which of several chunks tied at the
    cut-off make the list is arbitrary; a sharded collection would then rank differently
    from one index holding the same chunks, and two runs could differ. So equal scores
    are ordered by (source, offset), and when the list is full the chunks tied with its
    last one are left out (``TIE_MARGIN`` more were asked for, to make room; a shorter list
    holds every candidate there is, and nothing is left out).
    """
    if len(scored) >= keep + TIE_MARGIN and scored[-1][1] != scored[0][1]:
        last = scored[-1][1]
        scored = [pair for pair in scored if pair[1] != last]
    if len({score for _, score in scored}) < len(scored):  # ties: look up their places
        where = {h.chunk_id: (h.source, h.start) for h in collection.hits(scored)}
        scored = sorted(scored, key=lambda pair: (-pair[1], where.get(pair[0], ("", 0))))
    return scored[:keep]


class HybridRetriever:
    """The default retriever.

    ``mode`` per request: ``dense`` (cosine over FAISS), ``bm25`` (lexical) or
    ``hybrid`` (both, fused: by default a weighted sum of each side's scores divided by its
    best, ``fusion="rrf"`` for reciprocal rank). Filters apply to both sides. With a
    reranker, the fused candidates are reordered before the top ``k`` are kept.

    Example:
        >>> r = HybridRetriever(embedder)  # doctest: +SKIP
        >>> r.retrieve(collection, RetrieveRequest(query="refund policy", k=5))  # doctest: +SKIP
    """

    def __init__(self, embedder, reranker: Reranker | None = None, *, fusion: Fusion = "weighted",
                 dense_weight: float = DENSE_WEIGHT) -> None:
        self.embedder = embedder
        self.reranker = reranker
        self.fusion = fusion
        self.dense_weight = dense_weight

    def retrieve(self, collection, request: RetrieveRequest) -> list[ChunkHit]:
        allowed = collection.allowed_ids(request.filters)
        depth = max(MIN_CANDIDATES, 4 * request.k) if (self.reranker or request.mode == "hybrid") else request.k
        dense, lexical = [], []
        complete = {}  # side -> the search returned every chunk that scores there
        if request.mode in ("dense", "hybrid"):
            vector = self.embedder.embed_query(request.query)
            found = collection.dense_ids(vector, depth + TIE_MARGIN, allowed)
            complete["dense"] = len(found) < depth + TIE_MARGIN
            dense = canonical(collection, found, depth)
        if request.mode in ("bm25", "hybrid"):
            found = collection.lexical_ids(request.query, depth + TIE_MARGIN, allowed)
            complete["lexical"] = len(found) < depth + TIE_MARGIN
            lexical = canonical(collection, found, depth)
        if request.mode == "hybrid" and self.fusion == "rrf":
            ranked = reciprocal_rank_fusion(dense, lexical)
        elif request.mode == "hybrid":
            ranked = weighted_fusion(dense, lexical, dense_weight=self.dense_weight,
                                     dense_complete=complete["dense"], lexical_complete=complete["lexical"])
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
