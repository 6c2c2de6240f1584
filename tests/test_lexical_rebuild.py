"""The BM25 index is rebuilt off the collection's mutex, once, and swapped in."""

from __future__ import annotations

import threading
import time

import numpy as np

from rag.store import CollectionManager
from rag.store.base import ChunkRecord, NewDocument
from rag.store.lexical import LexicalIndex

DIM = 8


def _doc(source: str, words: list[str]) -> NewDocument:
    rng = np.random.default_rng(len(source))
    vectors = rng.standard_normal((len(words), DIM)).astype("float32")
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    chunks = [ChunkRecord(ordinal=i, page=None, start=0, end=len(w), text=w) for i, w in enumerate(words)]
    return NewDocument(source=source, title=source, kind="text", content_hash=source, size=1, mtime=1.0,
                       pages=1, chunks=chunks, vectors=vectors)


def test_rebuild_runs_once_off_the_mutex_and_is_swapped_in(settings, monkeypatch) -> None:
    real_build = LexicalIndex.build.__func__
    started, release, builds = threading.Event(), threading.Event(), []

    def slow_build(cls, rows, generation, **options):
        builds.append(generation)
        started.set()
        assert release.wait(10)
        return real_build(cls, rows, generation, **options)

    with CollectionManager(settings).open_or_create("c", embedding_model="m", dimension=DIM) as col:
        col.commit([_doc("a", ["alpha beta", "gamma delta"])])
        assert col.lexical_ids("alpha", 5)
        col.commit([_doc("b", ["zebra crossing", "quiet street"])])
        monkeypatch.setattr(LexicalIndex, "build", classmethod(slow_build))
        found: list[list] = []
        readers = [threading.Thread(target=lambda: found.append(col.lexical_ids("zebra", 5))) for _ in range(4)]
        for t in readers:
            t.start()
        assert started.wait(10)
        # While BM25 rebuilds, the mutex is free: dense search and record reads answer.
        t0 = time.perf_counter()
        assert col.search(np.eye(DIM, dtype="float32")[0], 2)
        assert len(col.documents()) == 2
        assert time.perf_counter() - t0 < 2
        assert all(t.is_alive() for t in readers)  # they wait for the fresh index
        release.set()
        for t in readers:
            t.join(10)
        assert len(builds) == 1, "one rebuild serves every waiting reader"
        assert len(found) == 4
        texts = {h.text for h in col.hits(found[0])}
        assert all(len(f) == 1 and f == found[0] for f in found) and texts == {"zebra crossing"}
