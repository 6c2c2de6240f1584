"""The FAISS + SQLite store against real FAISS and SQLite (random unit vectors, no model)."""

from __future__ import annotations

import sqlite3

import numpy as np
import pytest

from rag.errors import ConflictError, ModelMismatchError, NotFoundError
from rag.schemas import SearchFilters
from rag.store import CollectionManager
from rag.store.base import ChunkRecord, NewDocument

DIM = 16
rng = np.random.default_rng(7)


def unit(n: int) -> np.ndarray:
    v = rng.standard_normal((n, DIM)).astype("float32")
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def doc(source: str, n: int = 3, vectors: np.ndarray | None = None) -> NewDocument:
    vecs = unit(n) if vectors is None else vectors
    chunks = [ChunkRecord(ordinal=i, page=1, start=i * 10, end=i * 10 + 5, text=f"{source} chunk {i}") for i in range(len(vecs))]
    return NewDocument(source=source, title=source, kind="text", content_hash=f"h-{source}", size=1,
                       mtime=1.0, pages=1, chunks=chunks, vectors=vecs)


@pytest.fixture
def mgr(settings):
    return CollectionManager(settings)


def consistent(col) -> dict:
    state = col.index_state()
    assert state["index_ids"] == state["record_ids"], "index and records disagree"
    return state


def test_search_finds_the_nearest_chunk(mgr):
    with mgr.open_or_create("c", embedding_model="m", dimension=DIM) as col:
        vecs = unit(20)
        col.commit([doc("a", vectors=vecs[:10]), doc("b", vectors=vecs[10:])])
        hits = col.search(vecs[13], 3)
        assert hits[0].source == "b" and hits[0].text == "b chunk 3"
        assert hits[0].score == pytest.approx(1.0, abs=1e-5)
        assert hits[0].score >= hits[1].score >= hits[2].score


def test_replace_and_delete_remove_vectors(mgr):
    with mgr.open_or_create("c", embedding_model="m", dimension=DIM) as col:
        (a_id, b_id) = col.commit([doc("a", 4), doc("b", 2)])
        old = consistent(col)["record_ids"]
        (a2,) = col.commit([doc("a", 5)])
        state = consistent(col)
        assert len(state["record_ids"]) == 7 and a2 != a_id
        assert not (old - state["record_ids"]) - set(range(1, 5)) and len(old & state["record_ids"]) == 2
        assert col.delete_documents([b_id]) == 1
        assert len(consistent(col)["record_ids"]) == 5
        assert [d.source for d in col.documents()] == ["a"]


def test_reopen_reads_the_published_index(mgr):
    with mgr.open_or_create("c", embedding_model="m", dimension=DIM) as col:
        col.commit([doc("a"), doc("b")])
    with mgr.open("c") as col:
        state = consistent(col)
        assert state["published_generation"] == state["generation"]
        assert col.info().chunks == 6 and col.info().documents == 2


def test_a_lost_index_is_rebuilt_from_the_records(mgr, settings):
    with mgr.open_or_create("c", embedding_model="m", dimension=DIM) as col:
        vecs = unit(3)
        col.commit([doc("a", vectors=vecs)])
    for f in (settings.collections_dir / "c" / "index").iterdir():
        f.unlink()
    with mgr.open("c") as col:
        assert col.search(vecs[1], 1)[0].text == "a chunk 1"
        consistent(col)


def test_orphan_vectors_are_dropped_on_open(mgr, settings):
    """A commit whose index save never happened (as after a kill) is caught up on open."""
    with mgr.open_or_create("c", embedding_model="m", dimension=DIM) as col:
        col.commit([doc("a"), doc("b")])
    # Change the records behind the index's back, as a killed writer would leave them.
    conn = sqlite3.connect(settings.collections_dir / "c" / "records.sqlite")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("DELETE FROM documents WHERE source = 'a'")
    conn.execute("UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'generation'")
    conn.commit()
    conn.close()
    with mgr.open("c") as col:
        state = consistent(col)
        assert len(state["record_ids"]) == 3
        assert all(h.source == "b" for h in col.search(unit(1)[0], 10))


def test_a_reader_sees_commits_before_the_index_is_saved(mgr):
    writer = mgr.open_or_create("c", embedding_model="m", dimension=DIM)
    reader = mgr.open("c")
    try:
        assert reader.search(unit(1)[0], 5) == []
        vecs = unit(2)
        writer.commit([doc("a", vectors=vecs)])  # not yet saved to disk as an index
        assert reader.search(vecs[0], 1)[0].source == "a"
    finally:
        writer.close()
        reader.close()


def test_model_mismatch_is_a_clear_error(mgr):
    mgr.create("c", embedding_model="all-MiniLM-L6-v2", dimension=DIM)
    with pytest.raises(ModelMismatchError, match="all-MiniLM-L6-v2"):
        mgr.open_or_create("c", embedding_model="other-model", dimension=DIM)


def test_one_writer_at_a_time(mgr):
    with mgr.open_or_create("c", embedding_model="m", dimension=DIM):
        with pytest.raises(ConflictError, match="being written"):
            mgr.open("c", writable=True)
        with pytest.raises(ConflictError):
            mgr.delete("c")


def test_unknown_and_invalid_names(mgr):
    with pytest.raises(NotFoundError):
        mgr.open("nope")
    from rag.errors import InvalidInputError

    for bad in ("", "../x", "a/b", "x" * 65, ".hidden"):
        with pytest.raises(InvalidInputError):
            mgr.path(bad)


def test_delete_collection(mgr):
    mgr.create("c", embedding_model="m", dimension=DIM)
    assert mgr.names() == ["c"]
    mgr.delete("c")
    assert mgr.names() == [] and not mgr.path("c").exists()


@pytest.mark.parametrize("index_type", ["hnsw", "ivf"])
def test_approximate_indexes(settings, index_type):
    s = settings.model_copy(update={"index_type": index_type})
    mgr = CollectionManager(s)
    vecs = unit(6000)
    with mgr.open_or_create("c", embedding_model="m", dimension=DIM) as col:
        col.commit([doc(f"d{i}", vectors=vecs[i * 600:(i + 1) * 600]) for i in range(10)])
        col.save_index()  # an IVF index is trained when it is saved with enough vectors
        assert col.index_state()["kind"] == index_type
        hits = col.search(vecs[1234], 5)
        assert hits[0].source == "d2" and hits[0].score == pytest.approx(1.0, abs=1e-4)
        col.delete_documents([col.documents()[0].doc_id])  # HNSW: tombstones, no rebuild
        consistent(col)
        a = col.allowed_ids(SearchFilters(source="d3"))  # a filtered search on each kind
        assert {h.source for h in col.search(vecs[1834], 5, allowed=a)} == {"d3"}
    with mgr.open("c") as col:
        assert consistent(col)["kind"] == index_type
        assert all(h.source != "d0" for h in col.search(vecs[5], 10))


def test_auto_switches_to_hnsw_past_the_threshold(settings):
    s = settings.model_copy(update={"ann_threshold": 50})
    mgr = CollectionManager(s)
    with mgr.open_or_create("c", embedding_model="m", dimension=DIM) as col:
        col.commit([doc("small", 10)])
        col.save_index()
        assert col.index_state()["kind"] == "flat"
        col.commit([doc("big", 60)])
        col.save_index()
        assert consistent(col)["kind"] == "hnsw"


def hnsw_collection(settings, name="g"):
    return CollectionManager(settings.model_copy(update={"index_type": "hnsw"})).open_or_create(
        name, embedding_model="m", dimension=DIM)


def test_hnsw_replaces_and_deletes_without_a_rebuild(settings):
    """Removed chunks become tombstones: never returned, saved with the index, and the
    graph is the same object throughout (no rebuild)."""
    vecs = unit(400)
    with hnsw_collection(settings) as col:
        ids = col.commit([doc(f"d{i}", vectors=vecs[i * 40:(i + 1) * 40]) for i in range(10)])
        graph = col._index.faiss
        (d0v2,) = col.commit([doc("d0", vectors=unit(40))])  # replace: 40 tombstones
        col.delete_documents([ids[1]])  # delete: 40 more (and a save)
        state = consistent(col)
        assert col._index.faiss is graph and state["tombstones"] == 80 and len(state["record_ids"]) == 360
        for q in vecs[:80]:  # the exact vectors of the removed chunks: never found again
            assert all(h.source not in ("d1",) and h.doc_id != ids[0] for h in col.search(q, 10))
    with CollectionManager(settings).open("g") as reader:  # loads the saved tombstones
        assert reader.index_state()["tombstones"] == 80
        assert all(h.doc_id not in (ids[0], ids[1]) for q in vecs[:80] for h in reader.search(q, 10))
        assert reader.search(vecs[200], 1)[0].text == "d5 chunk 0"


def test_hnsw_compacts_when_tombstones_pass_the_fraction(settings):
    from rag.store.live_index import COMPACT_FRACTION

    vecs = unit(500)
    with hnsw_collection(settings) as col:
        ids = col.commit([doc(f"d{i}", vectors=vecs[i * 50:(i + 1) * 50]) for i in range(10)])
        n_dead = int(COMPACT_FRACTION * 10) + 1  # documents of 50 chunks to delete
        col.delete_documents(ids[:n_dead])  # delete_documents saves: the save compacts
        state = consistent(col)
        assert state["tombstones"] == 0 and len(state["record_ids"]) == 50 * (10 - n_dead)
        assert state["published_generation"] == state["generation"]
        assert col.search(vecs[-1], 1)[0].text == "d9 chunk 49"


def test_a_reader_follows_hnsw_deletes_before_they_are_saved(settings):
    vecs = unit(100)
    writer = hnsw_collection(settings)
    reader = CollectionManager(settings).open("g")
    try:
        a, _ = writer.commit([doc("a", vectors=vecs[:50]), doc("b", vectors=vecs[50:])])
        writer.save_index()
        assert reader.search(vecs[3], 1)[0].source == "a"
        writer.commit([doc("a", vectors=unit(50))])  # a replace, not yet saved
        assert reader.search(vecs[3], 1)[0].source != "a" or reader.search(vecs[3], 1)[0].doc_id != a
        assert consistent(reader)["tombstones"] == 50
    finally:
        writer.close()
        reader.close()


def test_hnsw_tombstones_survive_a_killed_writer(settings):
    """Records changed behind a saved HNSW index (as a kill between commit and save
    leaves them) are caught up on open as tombstones, and compacted by the next writer."""
    vecs = unit(60)
    with hnsw_collection(settings) as col:
        col.commit([doc("a", vectors=vecs[:10]), doc("b", vectors=vecs[10:])])
    conn = sqlite3.connect(settings.collections_dir / "g" / "records.sqlite")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("DELETE FROM documents WHERE source = 'a'")
    conn.execute("UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'generation'")
    conn.commit()
    conn.close()
    with CollectionManager(settings).open("g") as reader:
        assert consistent(reader)["tombstones"] == 10
        assert all(h.source == "b" for h in reader.search(vecs[0], 10))
    with CollectionManager(settings).open("g", writable=True) as col:
        state = consistent(col)  # 10 of 60 is under the fraction: kept as tombstones and saved
        assert state["tombstones"] == 10 and state["published_generation"] == state["generation"]


def test_auto_thresholds_with_hysteresis():
    from rag.store.index import choose_type

    assert [choose_type("auto", n, 100, 1000) for n in (99, 100, 999, 1000)] == ["flat", "hnsw", "hnsw", "ivf"]
    # A built index keeps its type until the size falls to half the boundary it crossed.
    assert choose_type("auto", 60, 100, 1000, current="hnsw") == "hnsw"
    assert choose_type("auto", 49, 100, 1000, current="hnsw") == "flat"
    assert choose_type("auto", 600, 100, 1000, current="ivf") == "ivf"
    assert choose_type("auto", 499, 100, 1000, current="ivf") == "hnsw"
    assert choose_type("ivf", 4095, 100, 1000) == "flat" and choose_type("hnsw", 5, 100, 1000) == "hnsw"


@pytest.mark.parametrize("index_type", ["hnsw", "ivf"])
def test_restrictive_filters_on_approximate_indexes_are_exact(settings, index_type):
    """A filter to one small document among many finds its chunks in exact order."""
    mgr = CollectionManager(settings.model_copy(update={"index_type": index_type}))
    vecs = unit(6000)
    with mgr.open_or_create("c", embedding_model="m", dimension=DIM) as col:
        ids = col.commit([doc(f"d{i}", vectors=vecs[i * 600:(i + 1) * 600]) for i in range(9)]
                         + [doc("small", vectors=vecs[5400:5420])])
        col.save_index()
        assert col.index_state()["kind"] == index_type
        allowed = col.allowed_ids(SearchFilters(doc_ids=[ids[-1]]))
        q = unit(1)[0]
        hits = col.search(q, 10, allowed=allowed)
        want = np.argsort(-(vecs[5400:5420] @ q))[:10]
        assert [h.text for h in hits] == [f"small chunk {i}" for i in want]
