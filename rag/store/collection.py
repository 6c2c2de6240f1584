"""A collection: a folder holding a manifest, the SQLite records and the FAISS index.

Durability design
-----------------
* SQLite (WAL, synchronous=FULL) is the source of truth: documents, chunks *and their
  vectors*. One write = one transaction, which bumps a generation counter. A document
  is acknowledged only once its transaction has committed.
* The FAISS index is derived. It is written under a new name, fsynced and published
  by atomically replacing ``index/index.json``, which names the file and the
  generation it reflects. A reader never opens a half-written file.
* On open, an index whose generation is not the records' generation (a writer was
  killed between its commit and its index save, or the index file is missing or
  unreadable) is brought in step from the records: vectors missing from the index
  are added, vectors of deleted chunks are removed, or the index is rebuilt.
  So a kill -9 at any moment leaves the collection at its last committed state,
  with no orphan vectors and no acknowledged document lost.
* One writer at a time, enforced by an exclusive lock file; readers need no lock.
* Every collection has a ``creation_id`` in its manifest: a collection deleted and
  created again under the same name is another collection, and cached handles on
  the old one are noticed as stale (see :class:`rag.store.handles.HandleCache`).
* Within a process, one handle may serve many threads: every use of the SQLite
  connection and the in-memory indexes takes the handle's mutex (the BM25 index is
  an immutable snapshot, searched outside it).
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Sequence

from rag.errors import ConflictError, ModelMismatchError, NotFoundError, StaleCollectionError, StoreError
from rag.schemas import ChunkHit, CollectionInfo, DocumentInfo
from rag.store import index as faiss_index
from rag.store import records
from rag.store.base import NewDocument
from rag.store.live_index import LiveIndex
from rag.store.durable import write_atomic
from rag.store.locks import take_write_lock

MANIFEST = "manifest.json"
#: Filtered searches on an approximate index with at most this many allowed chunks are
#: exact, over the chunks' stored vectors (a few milliseconds at most).
EXACT_FILTER_MAX = 2048
FORMAT_VERSION = 1


class Collection:
    """A named, durable collection of documents and chunk vectors.

    Open it through :class:`rag.store.CollectionManager`. ``writable=True`` takes the
    collection's write lock for the life of the object (release with :meth:`close`).
    """

    def __init__(self, folder: Path, *, settings, writable: bool = False) -> None:
        self.folder = folder
        self.name = folder.name
        self._settings = settings
        self._params = faiss_index.IndexParams(settings.hnsw_m, settings.hnsw_ef_search, settings.ivf_nprobe)
        try:
            self.manifest = json.loads((folder / MANIFEST).read_text())
        except FileNotFoundError:
            raise NotFoundError(f"collection '{self.name}' does not exist") from None
        except ValueError as exc:
            raise StoreError(f"collection '{self.name}' has an unreadable manifest: {exc}") from exc
        if "shard" in self.manifest:  # shard folders are numbered; say "docs#2", not "2"
            self.name = str(self.manifest["name"])
        self.dimension = int(self.manifest["dimension"])
        self.embedding_model = str(self.manifest["embedding_model"])
        self.writable = writable
        self._lock_fh = self._take_write_lock() if writable else None
        try:
            self._conn = records.connect(folder / "records.sqlite", create=writable)
            records.generation(self._conn)  # open the WAL files now, while the folder is there
        except (sqlite3.Error, StoreError):
            if self._lock_fh is not None:
                self._lock_fh.close()
            if not self._still_here():  # deleted (and maybe created again) while we were opening it
                raise NotFoundError(f"collection '{self.name}' does not exist") from None
            raise
        self._mutex = threading.RLock()
        self._index: LiveIndex | None = None
        self._index_generation = -1
        self._dirty = False  # in-memory index holds changes not yet saved
        self._lexical = None
        self._lexical_build: threading.Event | None = None  # set when the rebuild in progress ends
        self._on_gpu: bool | None = None  # decided on the first search (see rag.store.gpu)
        self._gpu_copy = None
        self._gpu_key: tuple | None = None

    # ------------------------------------------------------------------ lifecycle
    @staticmethod
    def create(folder: Path, *, embedding_model: str, dimension: int, index_type: str,
               name: str | None = None, extra: dict | None = None) -> None:
        """Write a new collection's manifest (atomically); the records are created on open.

        ``name`` is the collection's name when ``folder`` is a temporary folder that will be
        renamed into place (see :meth:`rag.store.CollectionManager.create`); ``extra`` adds
        manifest entries (a shard's ``shard``).
        """
        folder.mkdir(parents=True, exist_ok=False)
        manifest = {
            "format_version": FORMAT_VERSION,
            "name": name or folder.name,
            "creation_id": uuid.uuid4().hex,
            "embedding_model": embedding_model,
            "dimension": dimension,
            "index_type": index_type,
            "created_at": datetime.now(timezone.utc).isoformat(),
            **(extra or {}),
        }
        _write_manifest(folder, manifest)

    def _take_write_lock(self):
        return take_write_lock(self.folder, self.name)

    def _still_here(self) -> bool:
        """Whether the folder still holds the collection whose manifest we read: not deleted,
        and not deleted and created again under the same name (another creation id)."""
        try:
            now = json.loads((self.folder / MANIFEST).read_text())
        except (FileNotFoundError, ValueError):
            return False
        return creation_id_of(now) == creation_id_of(self.manifest)

    @property
    def creation_id(self) -> str:
        """Identifies this collection among all those ever created under its name."""
        return creation_id_of(self.manifest)

    def close(self) -> None:
        """Save pending index changes, close the database and release the write lock."""
        with self._mutex:
            if self.writable and self._dirty:
                self.save_index()
            self._conn.close()
            self._gpu_copy = None  # give its GPU memory back now, not when this object is collected
            if self._lock_fh is not None:
                self._lock_fh.close()
                self._lock_fh = None

    def __enter__(self) -> "Collection":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def check_model(self, embedding_model: str, dimension: int) -> None:
        """Raise :class:`ModelMismatchError` unless the collection was built with this encoder."""
        if embedding_model != self.embedding_model or dimension != self.dimension:
            raise ModelMismatchError(
                f"collection '{self.name}' was built with embedding model '{self.embedding_model}' "
                f"({self.dimension}-d), not '{embedding_model}' ({dimension}-d); "
                "use the same model or ingest into a new collection",
                collection=self.name,
            )

    @property
    def recipe(self) -> dict | None:
        """How the documents were chunked and embedded (see :meth:`adopt_recipe`); None if not recorded."""
        return self.manifest.get("recipe")

    def adopt_recipe(self, recipe: dict) -> None:
        """Record how documents are chunked and embedded, or refuse to mix two recipes.

        An empty collection takes ``recipe``; one holding documents must have been
        built with the same recipe, else :class:`StaleCollectionError`: its old chunks
        would silently answer beside new ones (and an evaluation would measure old code).
        """
        with self._mutex:
            old = self.recipe
            if old is not None and "encoder_backend" not in old:
                old = {**old, "encoder_backend": "torch"}  # recorded since onnx-int8 became the default
            if old == recipe:
                return
            if records.counts(self._conn)[0] > 0:
                old = old or {}
                differs = [k for k, v in recipe.items() if old.get(k) != v]
                changed = ", ".join(f"{k} {old.get(k, 'unrecorded')} -> {recipe[k]}" for k in differs)
                hint = (f", or set RAG_ENCODER_BACKEND={old['encoder_backend']} to keep adding to it"
                        if differs == ["encoder_backend"] else "")
                raise StaleCollectionError(
                    f"collection '{self.name}' was built by another ingestion recipe ({changed}); "
                    f"rebuild it (`rag ingest ... --rebuild`) or ingest into a new collection{hint}",
                    collection=self.name,
                )
            if not self.writable:
                raise StoreError(f"collection '{self.name}' is open read-only")
            self.manifest = {**self.manifest, "recipe": recipe}
            _write_manifest(self.folder, self.manifest)

    # ------------------------------------------------------------------ index upkeep
    @property
    def _index_dir(self) -> Path:
        return self.folder / "index"

    def _ensure_index(self):
        """The in-memory index, in step with the committed records."""
        with self._mutex:
            gen = records.generation(self._conn)
            if self._index is not None and (self._index_generation == gen or self._dirty):
                return self._index
            if self._index is None or faiss_index.published_generation(self._index_dir) != self._index_generation:
                loaded = faiss_index.load(self._index_dir, self._params)
                if loaded is not None:
                    index, self._index_generation, kind, dead = loaded
                    self._index = LiveIndex(index, kind, dead)
            if self._index is None or self._index_generation != gen:
                self._catch_up(gen)
            return self._index

    def _catch_up(self, gen: int) -> None:
        """Bring the index in step with the records (after a crash or another writer's commit)."""
        n_chunks = records.counts(self._conn)[1]
        wanted_kind = self._kind_for(n_chunks)
        if self._index is not None and wanted_kind == self._index.kind:
            have = self._index.ids()
            stored = records.all_chunk_ids(self._conn)
            extra, missing = have - stored, stored - have
            self._index.remove(extra)
            if missing:
                ids, vecs = records.vectors_for(self._conn, sorted(missing), self.dimension)
                self._index.add(vecs, ids)
            # Only a writer compacts (and publishes the result); a reader keeps its tombstones.
            if not (self.writable and self._index.needs_compaction()):
                self._after_change(gen, changed=bool(extra or missing))
                return
        self._rebuild(gen, wanted_kind)

    def _kind_for(self, n: int) -> str:
        current = self._index.kind if self._index is not None else None
        return faiss_index.choose_type(self.manifest["index_type"], n, self._settings.ann_threshold,
                                       self._settings.ivf_threshold, current)

    def _rebuild(self, gen: int, kind: str) -> None:
        import numpy as np

        train = None
        if kind == "ivf":
            batches = list(records.all_vectors(self._conn, self.dimension))
            train = np.concatenate([v for _, v in batches])[:100_000]
        index = faiss_index.new_index(kind, self.dimension, self._params, train=train)
        for ids, vecs in records.all_vectors(self._conn, self.dimension):
            index.add_with_ids(vecs, ids)
        self._index = LiveIndex(index, kind)
        self._after_change(gen, changed=True)

    def _after_change(self, gen: int, *, changed: bool) -> None:
        self._index_generation = gen
        if self.writable and changed:
            self.save_index()

    def save_index(self) -> None:
        """Publish the in-memory index (writers call this at the end of a run)."""
        with self._mutex:
            if not self.writable:
                raise StoreError("collection opened read-only")
            if self._index is None:
                self._ensure_index()
                return
            gen = records.generation(self._conn)
            n = self._index.ntotal
            wanted = self._kind_for(n)
            if wanted != self._index.kind or self._index.needs_compaction():
                # Crossed a size threshold, or too many tombstones: rebuild (which saves).
                self._rebuild(gen, wanted)
                return
            faiss_index.save(self._index.faiss, self._index_dir, gen, self._index.kind, self._index.dead)
            self._index_generation = gen
            self._dirty = False
            self._ensure_lexical()  # readers then load it instead of rebuilding

    # ------------------------------------------------------------------ writes
    def _require_writable(self) -> None:
        if not self.writable:
            raise StoreError(f"collection '{self.name}' was opened read-only")

    def commit(self, documents: Sequence[NewDocument]) -> list[int]:
        """Store documents in one transaction, replacing any with the same source.

        Returns their new ids. Once this returns, the documents are durable.
        """
        self._require_writable()
        for doc in documents:
            if doc.vectors.shape != (len(doc.chunks), self.dimension):
                raise StoreError(
                    f"document '{doc.source}' has vectors of shape {doc.vectors.shape}, "
                    f"expected ({len(doc.chunks)}, {self.dimension})"
                )
        with self._mutex:
            index = self._ensure_index()
            with records.transaction(self._conn):
                doc_ids, removed, new_ids = records.insert_documents(self._conn, documents)
            self._apply(index, removed, documents, new_ids)
            return doc_ids

    def _apply(self, index: LiveIndex, removed, documents, new_ids) -> None:
        """Mirror a committed change in the in-memory index (HNSW: removals become
        tombstones; the graph is rebuilt when the index is next saved with too many)."""
        import numpy as np

        self._dirty = True
        index.remove(removed)
        for doc, ids in zip(documents, new_ids):
            if ids:
                index.add(doc.vectors, np.asarray(ids, dtype="int64"))
        self._index_generation = records.generation(self._conn)

    def delete_documents(self, doc_ids: Sequence[int]) -> int:
        """Remove documents and their vectors; returns how many existed."""
        self._require_writable()
        with self._mutex:
            index = self._ensure_index()
            with records.transaction(self._conn):
                n, chunk_ids = records.delete_documents(self._conn, doc_ids)
            self._apply(index, chunk_ids, [], [])
            self.save_index()
            return n

    # ------------------------------------------------------------------ reads
    def search(self, vector, k: int, allowed: set[int] | None = None) -> list[ChunkHit]:
        """The ``k`` nearest chunks to a unit query vector, best first."""
        return self.hits(self.dense_ids(vector, k, allowed))

    def dense_ids(self, vector, k: int, allowed: set[int] | None = None) -> list[tuple[int, float]]:
        """(chunk id, cosine) of the ``k`` nearest chunks, optionally among ``allowed`` ids."""
        import numpy as np

        with self._mutex:
            index = self._ensure_index()
            if index.ntotal == 0 or k <= 0 or (allowed is not None and not allowed):
                return []
            q = np.ascontiguousarray(np.asarray(vector, dtype="float32").reshape(1, -1))
            if q.shape[1] != self.dimension:
                raise StoreError(f"query vector has {q.shape[1]} dimensions, collection has {self.dimension}")
            if allowed is not None and index.kind != "flat" and len(allowed) <= EXACT_FILTER_MAX:
                return self._exact_among(q, k, allowed)
            params = index.search_params(self._params, allowed)
            faiss_index.set_threads(self._settings.query_threads)
            searcher = index.faiss if params is not None else self._searcher(index.faiss)
            scores, ids = searcher.search(q, min(k, index.ntotal), params=params)
            return [(int(i), float(s)) for i, s in zip(ids[0], scores[0]) if i >= 0]

    def _exact_among(self, q, k: int, allowed: set[int]) -> list[tuple[int, float]]:
        """Exact search among a few allowed chunks: an approximate index searched through a
        restrictive filter mostly walks filtered-out vectors and returns too few hits."""
        import numpy as np

        ids, vecs = records.vectors_for(self._conn, sorted(allowed), self.dimension)
        scores = vecs @ q[0]
        top = np.argsort(-scores, kind="stable")[:k]
        return [(int(ids[i]), float(scores[i])) for i in top]

    def _searcher(self, index):
        """The index unfiltered searches use: its GPU copy when there is one (made again
        after the index changed), else the index itself."""
        from rag.store import gpu

        if self._on_gpu is None:
            self._on_gpu = gpu.wants_gpu(faiss_index.faiss_module(), self._settings.index_device)
        if not self._on_gpu:
            return index
        key = (id(index), self._index_generation, int(index.ntotal))
        if key != self._gpu_key:
            self._gpu_copy = None  # free the stale copy's GPU memory before making the new one
            self._gpu_copy = gpu.to_gpu(faiss_index.faiss_module(), index, self._index.kind)
            self._gpu_key = key
        return self._gpu_copy if self._gpu_copy is not None else index

    def lexical_ids(self, query: str, k: int, allowed: set[int] | None = None) -> list[tuple[int, float]]:
        """(chunk id, BM25 score) of the ``k`` best lexical matches."""
        if allowed is not None and not allowed:
            return []
        return self._ensure_lexical().search(query, k, allowed)

    @property
    def is_shard(self) -> bool:
        """Whether this collection is one shard of a sharded collection (:mod:`rag.store.sharded`)."""
        return "shard" in self.manifest

    def lexical_index(self):
        """The BM25 index (:class:`rag.store.lexical.LexicalIndex`), in step with the records;
        a shard's also holds the term counts that collection-wide scoring needs."""
        return self._ensure_lexical()

    def hits(self, scored) -> list[ChunkHit]:
        """Join (chunk id, score) pairs with their stored chunks, keeping the order."""
        with self._mutex:
            return records.hits_for(self._conn, scored)

    def _ensure_lexical(self):
        """The BM25 index, in step with the committed records (loaded or rebuilt).

        A rebuild (seconds at 100k chunks) runs off the collection's mutex, so dense
        searches, record reads and commits go on meanwhile; it is swapped in when done.
        One thread rebuilds; others that need the same index wait for it.
        """
        from rag.store.lexical import LexicalIndex

        folder = self.folder / "lexical"
        while True:
            with self._mutex:
                gen = records.generation(self._conn)
                if self._lexical is not None and self._lexical.generation == gen:
                    return self._lexical
                if LexicalIndex.published_generation(folder) == gen:
                    loaded = LexicalIndex.load(folder)
                    if loaded is not None and loaded.generation == gen and (loaded.terms or not self.is_shard):
                        self._lexical = loaded
                        return loaded
                building = self._lexical_build
                if building is None:
                    # Generation first: rows newer than it only make the next check rebuild again.
                    rows = self._conn.execute("SELECT chunk_id, text FROM chunks ORDER BY chunk_id").fetchall()
                    building = self._lexical_build = threading.Event()
                    break
            building.wait()  # another thread is rebuilding: use its index (or rebuild after it)
        built = None
        try:
            built = LexicalIndex.build(rows, gen, with_terms=self.is_shard)
            if self.writable:
                built.save(folder)
        finally:
            with self._mutex:
                if built is not None and (self._lexical is None or self._lexical.generation < gen):
                    self._lexical = built
                self._lexical_build = None
            building.set()
        return built

    def allowed_ids(self, filters) -> set[int] | None:
        """Chunk ids that pass ``filters`` (a :class:`rag.schemas.SearchFilters`), or None for all."""
        if filters is None or (filters.doc_ids is None and not filters.source and not filters.tags):
            return None
        with self._mutex:
            return records.filtered_chunk_ids(self._conn, filters.doc_ids, filters.source, filters.tags)

    def documents(self) -> list[DocumentInfo]:
        """Every stored document."""
        with self._mutex:
            return records.list_documents(self._conn)

    def document_by_source(self, source: str):
        """The stored row for ``source`` (sqlite3.Row) or None."""
        with self._mutex:
            return records.document_by_source(self._conn, source)

    def info(self) -> CollectionInfo:
        """Name, model, size."""
        with self._mutex:
            docs, chunks = records.counts(self._conn)
        return CollectionInfo(
            name=self.name,
            embedding_model=self.embedding_model,
            dimension=self.dimension,
            index_type=self._kind_for(chunks),
            documents=docs,
            chunks=chunks,
            created_at=datetime.fromisoformat(self.manifest["created_at"]),
        )

    @property
    def connection(self):
        """The SQLite connection (for read queries by engine modules such as BM25)."""
        return self._conn

    def index_state(self) -> dict:
        """Diagnostics: ids in the index and in the records, generations (used by tests)."""
        with self._mutex:
            index = self._ensure_index()
            return {
                "index_ids": index.ids(),
                "record_ids": records.all_chunk_ids(self._conn),
                "generation": records.generation(self._conn),
                "published_generation": faiss_index.published_generation(self._index_dir),
                "kind": index.kind,
                "tombstones": len(index.dead),
            }


def creation_id_of(manifest: dict) -> str:
    """A manifest's creation id (collections made before ids existed: their creation time)."""
    return str(manifest.get("creation_id") or manifest.get("created_at", ""))


def _write_manifest(folder: Path, manifest: dict) -> None:
    """Replace the manifest atomically and durably (file, then folder, fsynced)."""
    write_atomic(folder / MANIFEST, json.dumps(manifest, indent=2))
