"""A sharded collection: several ordinary collections under one name, searched as one.

Layout under ``RAG_HOME/collections``::

    NAME/manifest.json        {"shards": N, "creation_id": ..., "embedding_model": ...}
    NAME/write.lock           held by the one writer (it also holds every shard's lock)
    NAME/shards/00 .. N-1     ordinary collections (records, FAISS, BM25), each a shard

A document lives in shard ``hash(source) % N`` (sha256, so every process and host
agrees), so replacing or deleting it always finds the same shard. Each shard keeps
its own SQLite ids; the ids the sharded collection hands out are
``local * N + shard``, so they are unique and say where a document or chunk lives.
Each shard is as crash-safe as any collection; a batch that spans shards commits
shard by shard, so after a crash some of its documents may be stored and the others
not, never half a document (a rerun stores the rest).

Searches go through :class:`rag.store.fanout.ShardedQuery`, which queries every shard
and merges what they return the way one index over all the chunks would rank it.
"""

from __future__ import annotations

import hashlib
import json
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Sequence

from rag.errors import NotFoundError
from rag.schemas import ChunkHit, CollectionInfo, DocumentInfo
from rag.store.base import NewDocument
from rag.store.collection import MANIFEST, Collection, creation_id_of
from rag.store.locks import take_write_lock

SHARDS_DIR = "shards"


def shard_of(source: str, count: int) -> int:
    """The shard that holds the document read from ``source`` (stable across processes)."""
    return int.from_bytes(hashlib.sha256(source.encode("utf-8", "surrogatepass")).digest()[:8], "big") % count


def shard_folder(folder: Path, index: int) -> Path:
    return folder / SHARDS_DIR / f"{index:02d}"


def is_sharded(manifest: dict) -> bool:
    return "shards" in manifest


def create_shards(folder: Path, *, name: str, count: int, settings, **manifest) -> None:
    """Write a sharded collection's manifest and its ``count`` empty shards into ``folder``
    (a temporary folder the manager renames into place)."""
    Collection.create(folder, name=name, extra={"shards": count}, **manifest)
    for i in range(count):
        sub = shard_folder(folder, i)
        sub.parent.mkdir(exist_ok=True)
        Collection.create(sub, name=f"{name}#{i}", extra={"shard": {"of": name, "index": i, "count": count}},
                          **manifest)
        Collection(sub, settings=settings, writable=True).close()  # make the tables


class ShardedCollection:
    """N ordinary collections used as one; open it through :class:`rag.store.CollectionManager`.

    Writes route each document to its shard; reads merge the shards' answers.
    ``writable=True`` holds the collection's write lock and every shard's.
    """

    def __init__(self, folder: Path, *, settings, writable: bool = False) -> None:
        self.folder = folder
        self.name = folder.name
        self._settings = settings
        try:
            self.manifest = json.loads((folder / MANIFEST).read_text())
        except FileNotFoundError:
            raise NotFoundError(f"collection '{self.name}' does not exist") from None
        self.count = int(self.manifest["shards"])
        self.dimension = int(self.manifest["dimension"])
        self.embedding_model = str(self.manifest["embedding_model"])
        self.writable = writable
        self._lock_fh = take_write_lock(folder, self.name) if writable else None
        self.shards: list[Collection] = []
        try:
            for i in range(self.count):
                self.shards.append(Collection(shard_folder(folder, i), settings=settings, writable=writable))
        except BaseException:
            self.close()
            raise
        self._remote = self._remote_shards() if not writable else {}
        # Room for a few concurrent searches; a shard past its timeout still holds a worker until it returns.
        self._pool = ThreadPoolExecutor(max_workers=4 * self.count, thread_name_prefix=f"rag-shards-{self.name}")

    # ------------------------------------------------------------------ lifecycle
    @property
    def creation_id(self) -> str:
        return creation_id_of(self.manifest)

    def close(self) -> None:
        """Close every shard (saving pending index changes) and release the locks."""
        for shard in self.shards:
            shard.close()
        for remote in getattr(self, "_remote", {}).values():
            remote.close()
        if getattr(self, "_pool", None) is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
        if self._lock_fh is not None:
            self._lock_fh.close()
            self._lock_fh = None

    def __enter__(self) -> "ShardedCollection":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def check_model(self, embedding_model: str, dimension: int) -> None:
        for shard in self.shards:
            shard.check_model(embedding_model, dimension)

    @property
    def recipe(self) -> dict | None:
        return self.shards[0].recipe

    def adopt_recipe(self, recipe: dict) -> None:
        """As :meth:`Collection.adopt_recipe`, for every shard; shards holding documents are
        checked first, so a refusal changes nothing."""
        for shard in sorted(self.shards, key=lambda s: s.info().documents == 0):
            shard.adopt_recipe(recipe)

    # ------------------------------------------------------------------ ids
    def to_global(self, local: int, shard: int) -> int:
        return local * self.count + shard

    def to_local(self, global_id: int) -> tuple[int, int]:
        """(shard, local id) of a global document or chunk id."""
        local, shard = divmod(int(global_id), self.count)
        return shard, local

    def global_hits(self, shard: int, hits: list[ChunkHit]) -> list[ChunkHit]:
        for hit in hits:
            hit.chunk_id = self.to_global(hit.chunk_id, shard)
            hit.doc_id = self.to_global(hit.doc_id, shard)
        return hits

    # ------------------------------------------------------------------ writes
    def commit(self, documents: Sequence[NewDocument]) -> list[int]:
        """Store each document in its shard (one transaction per shard); their global ids in order."""
        by_shard: dict[int, list[int]] = {}
        for pos, doc in enumerate(documents):
            by_shard.setdefault(shard_of(doc.source, self.count), []).append(pos)
        ids = [0] * len(documents)
        for shard, positions in sorted(by_shard.items()):
            local = self.shards[shard].commit([documents[p] for p in positions])
            for p, doc_id in zip(positions, local):
                ids[p] = self.to_global(doc_id, shard)
        return ids

    def delete_documents(self, doc_ids: Sequence[int]) -> int:
        """Remove documents (global ids) from their shards; how many existed."""
        by_shard: dict[int, list[int]] = {}
        for g in doc_ids:
            shard, local = self.to_local(g)
            by_shard.setdefault(shard, []).append(local)
        return sum(self.shards[s].delete_documents(ids) for s, ids in sorted(by_shard.items()))

    def save_index(self) -> None:
        for shard in self.shards:
            shard.save_index()

    # ------------------------------------------------------------------ reads
    def documents(self) -> list[DocumentInfo]:
        """Every document of every shard, with global ids, oldest first."""
        docs = []
        for i, shard in enumerate(self.shards):
            for d in shard.documents():
                docs.append(d.model_copy(update={"doc_id": self.to_global(d.doc_id, i)}))
        return sorted(docs, key=lambda d: (d.ingested_at, d.doc_id))

    def info(self) -> CollectionInfo:
        infos = [s.info() for s in self.shards]
        return CollectionInfo(
            name=self.name, embedding_model=self.embedding_model, dimension=self.dimension,
            index_type=infos[0].index_type, documents=sum(i.documents for i in infos),
            chunks=sum(i.chunks for i in infos), created_at=datetime.fromisoformat(self.manifest["created_at"]),
            shards=self.count,
        )

    def query(self, timeout: float | None = None, *, strict: bool = False):
        """A :class:`rag.store.fanout.ShardedQuery`: one search over every shard, each given
        ``timeout`` seconds per step; ``strict`` raises instead of returning partial results."""
        from rag.store.fanout import LocalShard, ShardedQuery

        shards = [self._remote.get(i) or LocalShard(i, s) for i, s in enumerate(self.shards)]
        return ShardedQuery(self, shards, self._pool, timeout, strict=strict)

    def _remote_shards(self) -> dict:
        """HTTP clients for the shards ``RAG_SHARD_URLS`` places on other servers."""
        from rag.store.remote import HttpShard, shard_urls

        key = self._settings.shard_api_key
        return {i: HttpShard(i, self.name, url, timeout=self._settings.shard_timeout,
                             api_key=key.get_secret_value() if key else None)
                for i, url in shard_urls(self._settings.shard_urls, self.name).items() if i < self.count}

    # The Collection reading interface, strict (a failing shard raises): for callers
    # that search a collection directly. The query service uses query() and reports
    # partial results instead.
    def allowed_ids(self, filters):
        return self.query(strict=True).allowed_ids(filters)

    def dense_ids(self, vector, k: int, allowed=None) -> list[tuple[int, float]]:
        return self.query(strict=True).dense_ids(vector, k, allowed)

    def lexical_ids(self, query: str, k: int, allowed=None) -> list[tuple[int, float]]:
        return self.query(strict=True).lexical_ids(query, k, allowed)

    def hits(self, scored) -> list[ChunkHit]:
        return self.query(strict=True).hits(scored)

    def search(self, vector, k: int, allowed=None) -> list[ChunkHit]:
        """The ``k`` nearest chunks to a unit query vector, best first."""
        return self.hits(self.dense_ids(vector, k, allowed))

    def index_state(self) -> dict:
        """Diagnostics per shard (used by tests)."""
        return {"shards": [s.index_state() for s in self.shards]}
