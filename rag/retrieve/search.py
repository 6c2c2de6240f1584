"""Dense retrieval over one collection."""

from __future__ import annotations

import time

from rag.errors import InvalidInputError
from rag.schemas import SearchResponse


def search(settings, collection: str, query: str, *, k: int = 5, embedder=None) -> SearchResponse:
    """Embed ``query`` and return the ``k`` nearest chunks of ``collection``."""
    from rag.embed import make_embedder
    from rag.store import CollectionManager

    query = (query or "").strip()
    if not query:
        raise InvalidInputError("the query is empty")
    if not 1 <= k <= 1000:
        raise InvalidInputError(f"k must be between 1 and 1000, not {k}")
    started = time.perf_counter()
    with CollectionManager(settings).open(collection) as col:
        embedder = embedder or make_embedder(settings, col.embedding_model)
        hits = col.search(embedder.embed_query(query), k)
    return SearchResponse(query=query, collection=collection, hits=hits, seconds=time.perf_counter() - started)
