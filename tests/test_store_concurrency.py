"""Handles shared between threads, recreated collections, atomic creation and a stuck
ingestion producer, against real FAISS and SQLite (random vectors; the last test uses
the real encoder's tokenizer only for chunking)."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from rag.errors import ConflictError, NotFoundError
from rag.store import CollectionManager
from rag.store.handles import HandleCache
from tests.test_store import DIM, doc, unit


@pytest.fixture
def mgr(settings):
    return CollectionManager(settings)


def make(mgr, name: str, *sources: str) -> None:
    with mgr.open_or_create(name, embedding_model="m", dimension=DIM) as col:
        col.commit([doc(s) for s in sources])


def test_a_leased_handle_stays_open_when_forgotten(mgr):
    make(mgr, "c", "a")
    cache = HandleCache(mgr)
    with cache.lease("c") as col:
        cache.forget("c")  # what a DELETE does while a search runs
        cache.close()
        assert [d.source for d in col.documents()] == ["a"]  # not a closed database
        assert col.search(unit(1)[0], 1)
    with pytest.raises(Exception, match="closed"):
        col.documents()  # closed once its last user returned it


def test_a_recreated_collection_is_noticed(mgr, settings):
    make(mgr, "c", "old")
    cache = HandleCache(mgr)
    with cache.lease("c") as col:
        assert [d.source for d in col.documents()] == ["old"]
    other = CollectionManager(settings)  # another process: deletes and recreates the name
    other.delete("c")
    with pytest.raises(NotFoundError):
        with cache.lease("c"):
            pass
    make(other, "c", "new")
    with cache.lease("c") as col:
        assert [d.source for d in col.documents()] == ["new"]


def test_threads_lease_while_others_delete_and_recreate(mgr):
    make(mgr, "c", "a", "b")
    cache = HandleCache(mgr)
    errors: list[BaseException] = []
    stop = time.monotonic() + 3

    def reader():
        while time.monotonic() < stop:
            try:
                with cache.lease("c") as col:
                    col.documents()
                    col.search(unit(1)[0], 2)
                    col.allowed_ids(None)
                    col.info()
            except NotFoundError:
                pass
            except BaseException as exc:  # noqa: BLE001 - collected and reported
                errors.append(exc)

    def churn():
        while time.monotonic() < stop:
            try:
                cache.forget("c")
                mgr.delete("c")
            except (NotFoundError, ConflictError):
                pass
            try:
                make(mgr, "c", "a")
            except (ConflictError, NotFoundError):  # the other churner was quicker
                pass

    with ThreadPoolExecutor(6) as pool:
        futures = [pool.submit(reader) for _ in range(4)] + [pool.submit(churn) for _ in range(2)]
        for f in futures:
            f.result()
    assert not errors, errors[:3]


def test_concurrent_creates_of_one_name(mgr, settings):
    def create(_):
        try:
            mgr.create("c", embedding_model="m", dimension=DIM)
            return "created"
        except ConflictError:
            return "conflict"

    with ThreadPoolExecutor(8) as pool:
        outcomes = list(pool.map(create, range(16)))
    assert outcomes.count("created") == 1 and outcomes.count("conflict") == 15
    assert mgr.names() == ["c"]
    assert not [p.name for p in mgr.root.iterdir() if p.name.startswith(".")]  # no half-built folder left
    with mgr.open("c", writable=True) as col:
        col.commit([doc("a")])


def test_creation_ids_differ(mgr):
    mgr.create("c", embedding_model="m", dimension=DIM)
    first = mgr.creation_id("c")
    mgr.delete("c")
    assert mgr.creation_id("c") is None
    mgr.create("c", embedding_model="m", dimension=DIM)
    assert mgr.creation_id("c") not in (None, first)


class _BrokenEncoder:
    """Chunks with a word count, fails to embed: the consumer raises mid-ingestion."""

    name = "broken"
    dimension = DIM

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def embed_batch(self, texts):
        time.sleep(1)  # meanwhile the producer fills the bounded queue and waits on it
        raise RuntimeError("the encoder crashed")


def test_a_failed_embedding_does_not_leave_the_producer_blocked(settings, tmp_path):
    from ingest.pipeline import BATCH_CHUNKS, PREFETCH, Ingestor

    folder = tmp_path / "docs"
    folder.mkdir()
    # ~18 chunks a file: the first batch (and its failure) comes with many files still to queue
    for i in range(BATCH_CHUNKS // 18 + PREFETCH * 6):
        (folder / f"f{i:03d}.txt").write_text(" ".join(f"word{i}-{j}" for j in range(3000)))
    with pytest.raises(RuntimeError, match="encoder crashed"):
        Ingestor(settings, embedder=_BrokenEncoder()).ingest([folder], "c")
    deadline = time.monotonic() + 10
    while any(t.name == "rag-ingest-parse" for t in threading.enumerate()) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(t.name == "rag-ingest-parse" for t in threading.enumerate()), "producer thread still blocked"


def test_a_collection_deleted_and_recreated_while_a_reader_opens_it_is_not_found(mgr, settings, monkeypatch):
    """The reader read the old manifest; before it opened the records the name was deleted
    and created again (so a manifest is there once more). That is the old collection gone:
    NotFoundError (a 404 to an API client), not SQLite's 'unable to open database file'."""
    import sqlite3

    from rag.store import records

    make(mgr, "c", "old")
    real_connect = records.connect
    calls = []

    def racing_connect(path, *, create):
        if not create and not calls:
            calls.append(path)
            other = CollectionManager(settings)  # another request, in between
            other.delete("c")
            make(other, "c", "new")
            raise sqlite3.OperationalError("unable to open database file")
        return real_connect(path, create=create)

    monkeypatch.setattr(records, "connect", racing_connect)
    with pytest.raises(NotFoundError):
        with HandleCache(mgr).lease("c"):
            pass
    assert calls
    with HandleCache(mgr).lease("c") as col:  # the new collection opens as usual
        assert [d.source for d in col.documents()] == ["new"]
