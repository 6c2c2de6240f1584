"""One search over every shard of a sharded collection, merged as one index would rank it.

:class:`ShardedQuery` offers the reading interface the retriever uses on a collection
(``allowed_ids``, ``dense_ids``, ``lexical_ids``, ``hits``), so hybrid retrieval and
its reciprocal rank fusion run unchanged over global ids:

* dense: every shard returns its own top ``k``; the global top ``k`` is among them
  (exact for flat indexes, as approximate as the shards' indexes otherwise);
* BM25: shards first report their statistics for the query's terms, then score with
  the sums (:mod:`rag.store.lexical_terms`), so the scores are those of one index;
* each step asks all shards at once and waits at most ``timeout`` seconds for each. A
  shard that fails or times out is left out of the rest of the search and listed in
  :attr:`ShardedQuery.failures`; the results are then partial. When every shard fails
  the search raises :class:`rag.errors.ShardsUnavailableError`.
"""

from __future__ import annotations

import time
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Callable, Protocol

from rag.errors import ShardsUnavailableError, StoreError
from rag.schemas import ChunkHit, SearchFilters, ShardFailure
from rag.store.lexical_terms import TermStats

#: A shard holds no document a doc_ids filter names: it has nothing to return.
_NOTHING = object()


class Shard(Protocol):
    """One shard, in this process or behind an API. Ids are the shard's own."""

    name: str
    index: int

    def dense(self, vector, k: int, filters: SearchFilters | None) -> list[tuple[int, float]]: ...

    def term_stats(self, query: str) -> TermStats: ...

    def lexical(self, query: str, k: int, filters: SearchFilters | None, stats: TermStats) -> list[tuple[int, float]]: ...

    def hits(self, scored: list[tuple[int, float]]) -> list[ChunkHit]: ...


class LocalShard:
    """A shard that is a collection opened in this process."""

    def __init__(self, index: int, collection) -> None:
        self.index, self.collection, self.name = index, collection, collection.name

    def dense(self, vector, k, filters):
        return self.collection.dense_ids(vector, k, self.collection.allowed_ids(filters))

    def term_stats(self, query):
        return self.collection.lexical_index().term_stats(query)

    def lexical(self, query, k, filters, stats):
        allowed = self.collection.allowed_ids(filters)
        if allowed is not None and not allowed:
            return []
        return self.collection.lexical_index().search_with(query, stats, k, allowed)

    def hits(self, scored):
        return self.collection.hits(scored)


def local_filters(filters: SearchFilters | None, shard: int, count: int):
    """``filters`` in a shard's own ids; ``_NOTHING`` when its doc_ids name none of the shard's."""
    if filters is None or filters.doc_ids is None:
        return filters
    mine = [g // count for g in filters.doc_ids if g % count == shard]
    return filters.model_copy(update={"doc_ids": mine}) if mine else _NOTHING


class ShardedQuery:
    """One search over the shards of ``owner`` (a :class:`rag.store.sharded.ShardedCollection`)."""

    def __init__(self, owner, shards: list[Shard], pool, timeout: float | None, *, strict: bool = False) -> None:
        self.owner, self.shards, self.pool = owner, shards, pool
        self.timeout, self.strict = timeout, strict
        self.failures: list[ShardFailure] = []
        self.name = owner.name

    @property
    def partial(self) -> bool:
        """Whether some shard's results are missing."""
        return bool(self.failures)

    # ------------------------------------------------------------------ the reading interface
    def allowed_ids(self, filters):
        """The filters themselves (each shard applies them to its own ids), or None."""
        if filters is None or (filters.doc_ids is None and not filters.source and not filters.tags):
            return None
        return filters

    def dense_ids(self, vector, k: int, allowed=None) -> list[tuple[int, float]]:
        found = self._fan("dense", lambda s, f: s.dense(vector, k, f), allowed)
        return self._merge(found, k)

    def lexical_ids(self, query: str, k: int, allowed=None) -> list[tuple[int, float]]:
        parts = self._fan("term_stats", lambda s, f: s.term_stats(query), None)
        stats = TermStats.combine(list(parts.values()))
        found = self._fan("lexical", lambda s, f: s.lexical(query, k, f, stats), allowed)
        return self._merge(found, k)

    def hits(self, scored) -> list[ChunkHit]:
        """The chunks of (global id, score) pairs, in order; those of failed shards are left out."""
        wanted: dict[int, list[tuple[int, float]]] = {}
        for gid, score in scored:
            shard, local = self.owner.to_local(gid)
            wanted.setdefault(shard, []).append((local, score))
        asked = [s for s in self.shards if s.index in wanted]
        found = self._fan("hits", lambda s, f: s.hits(wanted[s.index]), None, only=asked)
        by_id = {}
        for shard, hits in found.items():
            for hit in self.owner.global_hits(shard, hits):
                by_id[hit.chunk_id] = hit
        return [by_id[gid] for gid, _ in scored if gid in by_id]

    # ------------------------------------------------------------------ fan-out
    def _merge(self, found: dict[int, list[tuple[int, float]]], k: int) -> list[tuple[int, float]]:
        merged = [(self.owner.to_global(cid, shard), score) for shard, pairs in found.items() for cid, score in pairs]
        merged.sort(key=lambda p: (-p[1], p[0]))  # equal scores: lower global id first
        return merged[:k]

    def _fan(self, stage: str, call: Callable, filters, only: list[Shard] | None = None) -> dict[int, object]:
        """``call(shard, its filters)`` on every live shard at once; results by shard index."""
        failed = {f.shard for f in self.failures}
        targets = []
        for shard in (only if only is not None else self.shards):
            mine = local_filters(filters, shard.index, self.owner.count)
            if shard.name not in failed and mine is not _NOTHING:
                targets.append((shard, mine))
        futures = [(shard, self.pool.submit(call, shard, mine)) for shard, mine in targets]
        results: dict[int, object] = {}
        deadline = None if self.timeout is None else time.monotonic() + self.timeout
        for shard, future in futures:
            try:
                left = None if deadline is None else max(0.0, deadline - time.monotonic())
                results[shard.index] = future.result(timeout=left)
            except FutureTimeout:
                future.cancel()
                self._fail(shard, stage, "timeout", f"no answer within {self.timeout:g} s")
            except Exception as exc:  # noqa: BLE001 - any shard error makes the result partial
                self._fail(shard, stage, "error", getattr(exc, "message", None) or f"{type(exc).__name__}: {exc}")
        if futures and not results:
            reasons = "; ".join(f"{f.shard}: {f.message}" for f in self.failures)
            raise ShardsUnavailableError(f"no shard of collection '{self.name}' answered ({reasons})",
                                         collection=self.name)
        return results

    def _fail(self, shard: Shard, stage: str, reason: str, message: str) -> None:
        self.failures.append(ShardFailure(shard=shard.name, stage=stage, reason=reason, message=message))
        if self.strict:
            raise StoreError(f"shard {shard.name} failed ({stage}): {message}")
