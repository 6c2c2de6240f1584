"""One shard's part of a search, for a coordinator that fans a search out over hosts
(:class:`rag.store.remote.HttpShard`). Ids are the shard's own."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Request

from rag.api.access import require_read
from rag.api.deps import ERROR_RESPONSES, V1, get_service
from rag.api.threads import run_blocking
from rag.errors import InvalidInputError, NotFoundError
from rag.schemas import ShardSearch

router = APIRouter(prefix=V1, tags=["shards"], responses=ERROR_RESPONSES)


@router.post("/shards/{name}/{index}/{step}")
async def shard_step(name: str, index: int, step: Literal["dense", "term_stats", "lexical", "hits"],
                     body: ShardSearch, request: Request):
    """Run one search step on shard ``index`` of the sharded collection ``name``."""
    require_read(request, name)
    service = get_service(request)

    def run():
        from rag.store.fanout import LocalShard
        from rag.store.lexical_terms import TermStats
        from rag.store.sharded import ShardedCollection

        with service.use(name) as col:
            if not isinstance(col, ShardedCollection) or not 0 <= index < col.count:
                raise NotFoundError(f"collection '{name}' has no shard {index}")
            shard = LocalShard(index, col.shards[index])
            if step == "dense":
                if body.vector is None or len(body.vector) != col.dimension:
                    raise InvalidInputError(f"the dense step needs a vector of {col.dimension} numbers")
                return shard.dense(body.vector, body.k, body.filters)
            if step == "term_stats":
                return shard.term_stats(body.query).to_dict()
            if step == "lexical":
                try:
                    stats = TermStats.from_dict(body.stats or {})
                except (KeyError, TypeError, ValueError, AttributeError):
                    raise InvalidInputError("the lexical step needs the collection-wide stats "
                                            "({chunks, tokens, df})") from None
                return shard.lexical(body.query, body.k, body.filters, stats)
            return [h.model_dump(mode="json") for h in shard.hits(body.scored or [])]

    return await run_blocking(run, timeout=request.app.state.settings.request_timeout)
