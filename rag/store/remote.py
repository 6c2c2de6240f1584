"""A shard served by another ``rag serve`` process (``/v1/shards/...``), over HTTP.

The coordinator's settings name where shards live (``RAG_SHARD_URLS``); every other
shard is opened from the local folder. The remote server must see the same collection
(shared storage, or the shard's folder under its own ``RAG_HOME``).
"""

from __future__ import annotations

from rag.errors import ConfigError, StoreError
from rag.schemas import ChunkHit, ShardSearch
from rag.store.lexical_terms import TermStats


def shard_urls(setting: str, collection: str) -> dict[int, str]:
    """``{shard index: base URL}`` for ``collection`` from ``RAG_SHARD_URLS``
    (``"docs#1=http://10.0.0.2:8000,docs#2=http://10.0.0.3:8000"``)."""
    out = {}
    for item in (part.strip() for part in setting.split(",")):
        if not item:
            continue
        shard, sep, url = item.partition("=")
        name, hash_, index = shard.strip().rpartition("#")
        if not sep or not hash_ or not index.isdigit() or not url.strip().startswith(("http://", "https://")):
            raise ConfigError(f"RAG_SHARD_URLS: expected NAME#INDEX=http://HOST:PORT, got {item!r}")
        if name == collection:
            out[int(index)] = url.strip().rstrip("/")
    return out


class HttpShard:
    """A :class:`rag.store.fanout.Shard` answered by a remote server."""

    def __init__(self, index: int, collection: str, url: str, *, timeout: float | None, api_key: str | None) -> None:
        import httpx

        self.index, self.name = index, f"{collection}#{index}"
        self._base = f"{url}/v1/shards/{collection}/{index}"
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._http = httpx.Client(timeout=timeout, headers=headers)

    def _post(self, step: str, body: ShardSearch):
        import httpx

        try:
            reply = self._http.post(f"{self._base}/{step}", content=body.model_dump_json(exclude_none=True),
                                    headers={"Content-Type": "application/json"})
        except httpx.HTTPError as exc:
            raise StoreError(f"{self._base}: {type(exc).__name__}: {exc}") from exc
        if reply.status_code != 200:
            try:
                message = reply.json()["error"]["message"]
            except (ValueError, KeyError, TypeError):
                message = reply.text[:200]
            raise StoreError(f"{self._base}/{step}: HTTP {reply.status_code}: {message}")
        return reply.json()

    def dense(self, vector, k, filters):
        vector = vector.tolist() if hasattr(vector, "tolist") else list(vector)
        return [tuple(p) for p in self._post("dense", ShardSearch(vector=vector, k=k, filters=filters))]

    def term_stats(self, query):
        return TermStats.from_dict(self._post("term_stats", ShardSearch(query=query)))

    def lexical(self, query, k, filters, stats):
        body = ShardSearch(query=query, k=k, filters=filters, stats=stats.to_dict())
        return [tuple(p) for p in self._post("lexical", body)]

    def hits(self, scored):
        return [ChunkHit.model_validate(h) for h in self._post("hits", ShardSearch(scored=list(scored)))]

    def close(self) -> None:
        self._http.close()
