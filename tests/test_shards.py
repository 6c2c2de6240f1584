"""A sharded collection searched as one: the same ranking as one collection of the same
chunks (dense, BM25 and their fusion), replace and delete across shards, partial results
when a shard fails or is slow."""

from __future__ import annotations

import json
import threading
import time

import pytest

from ingest.pipeline import Ingestor
from rag.errors import ConflictError, ShardsUnavailableError
from rag.pipeline import RAGService
from rag.retrieve.hybrid import HybridRetriever
from rag.schemas import RetrieveRequest, SearchFilters
from rag.store import CollectionManager
from rag.store.lexical_terms import TermStats
from rag.store.sharded import ShardedCollection, shard_of
from tests.conftest import dataset, scifact_files

SHARDS = 3


@pytest.fixture(scope="module")
def home(tmp_path_factory, embedder, models_home):
    """150 SciFact abstracts ingested twice by one Ingestor: into one collection and into
    a 3-shard collection (the same embedding batches, so the same vectors)."""
    from rag.config import get_settings

    root = tmp_path_factory.mktemp("shards")
    corpus = scifact_files(root / "corpus", 150)
    settings = get_settings(home=root / "home", models_home=models_home)
    ingestor = Ingestor(settings, embedder=embedder)
    one = ingestor.ingest([corpus], "one")
    many = ingestor.ingest([corpus], "many", shards=SHARDS)
    assert one.ingested == many.ingested == 150 and one.chunks == many.chunks
    return settings, corpus, ingestor


def claims(n: int) -> list[str]:
    with dataset("scifact", "claims.jsonl").open() as fh:
        return [json.loads(line)["claim"] for _, line in zip(range(n), fh)]


def ranking(retriever, col, request):
    """What a search returns, without ids (they differ between the two layouts)."""
    return [(h.source, h.start, h.end, h.score, h.dense_score, h.lexical_score)
            for h in retriever.retrieve(col, request)]


def test_layout_and_routing(home):
    settings, corpus, _ = home
    mgr = CollectionManager(settings)
    assert mgr.shard_count("many") == SHARDS and mgr.shard_count("one") is None
    with mgr.open("many") as col:
        assert isinstance(col, ShardedCollection)
        info = col.info()
        assert info.shards == SHARDS and info.documents == 150
        for i, shard in enumerate(col.shards):
            sources = [d.source for d in shard.documents()]
            assert sources, "every shard got documents"
            assert all(shard_of(s, SHARDS) == i for s in sources)
        ids = [d.doc_id for d in col.documents()]
        assert len(set(ids)) == 150
    assert [i.name for i in mgr.list()] == ["many", "one"]


def candidates(col, embedder, query: str, depth: int = 50):
    """The dense and BM25 candidate lists hybrid retrieval fuses, as (source, start, score),
    best first; equal scores ordered by (source, start), since the order of ties is arbitrary."""
    def named(scored):
        rows = [(h.source, h.start, score) for h, (_, score) in zip(col.hits(scored), scored)]
        if len(rows) == depth:  # which of the chunks tied at the cut-off made the list is arbitrary
            rows = [r for r in rows if r[2] != rows[-1][2]]
        return sorted(rows, key=lambda r: (-r[2], r[0], r[1]))
    return (named(col.dense_ids(embedder.embed_query(query), depth)), named(col.lexical_ids(query, depth)))


def has_ties(col, embedder, query: str, depth: int = 50) -> bool:
    """Whether two of the candidates hybrid retrieval fuses have equal scores."""
    lists = col.dense_ids(embedder.embed_query(query), depth), col.lexical_ids(query, depth)
    return any(len({score for _, score in ranked}) < len(ranked) for ranked in lists)


def test_same_results_as_one_collection(home, embedder):
    """Dense and BM25 candidates equal one collection's, scores bit for bit, and hybrid,
    dense and BM25 search return the same top 10 for every claim, ties included."""
    settings, _, _ = home
    mgr = CollectionManager(settings)
    retriever = HybridRetriever(embedder)
    tied = 0
    with mgr.open("one") as one, mgr.open("many") as many:
        for claim in claims(40):
            dense, lexical = candidates(one, embedder, claim)
            assert dense and lexical, claim
            assert candidates(many.query(5.0), embedder, claim) == (dense, lexical), claim
            tied += has_ties(one, embedder, claim)
            # Retrieval orders ties by (source, offset) and leaves out a tie at the cut-off
            # (rag.retrieve.hybrid.canonical), so even tied candidates rank the same.
            for mode in ("hybrid", "dense", "bm25"):
                request = RetrieveRequest(query=claim, k=10, mode=mode)
                assert ranking(retriever, many.query(5.0), request) == ranking(retriever, one, request), claim
    assert tied >= 5  # 31 of these 40 claims: BM25 ties are common among abstracts


def test_bm25_arithmetic_is_bm25s(home):
    """Scored with its own statistics, a shard's term counts give bm25s's scores bit for bit;
    with the collection-wide statistics they differ (which is why shards exchange them)."""
    settings, _, _ = home
    with CollectionManager(settings).open("many") as many:
        indexes = [s.lexical_index() for s in many.shards]
        for claim in claims(20):
            whole = TermStats.combine([ix.term_stats(claim) for ix in indexes])
            for shard, ix in zip(many.shards, indexes):
                own = dict(shard.lexical_ids(claim, 10_000))
                assert dict(ix.search_with(claim, ix.term_stats(claim), 10_000)) == own
            assert any(dict(ix.search_with(claim, whole, 10_000)) != dict(s.lexical_ids(claim, 10_000))
                       for s, ix in zip(many.shards, indexes))


def test_filters_across_shards(home, embedder):
    settings, corpus, _ = home
    mgr = CollectionManager(settings)
    retriever = HybridRetriever(embedder)
    with mgr.open("one") as one, mgr.open("many") as many:
        chosen = sorted(d.source for d in one.documents())[:20]
        one_ids = [d.doc_id for d in one.documents() if d.source in chosen]
        many_ids = [d.doc_id for d in many.documents() if d.source in chosen]
        claim = claims(3)[2]
        for f_one, f_many in [(SearchFilters(doc_ids=one_ids), SearchFilters(doc_ids=many_ids)),
                              (SearchFilters(source="*/1*.txt"), SearchFilters(source="*/1*.txt"))]:
            got = ranking(retriever, many.query(5.0), RetrieveRequest(query=claim, k=8, filters=f_many))
            assert sorted(got) == sorted(ranking(retriever, one, RetrieveRequest(query=claim, k=8, filters=f_one)))
            assert got
        hits = retriever.retrieve(many.query(5.0), RetrieveRequest(
            query=claim, k=8, filters=SearchFilters(doc_ids=many_ids)))
        assert {h.doc_id for h in hits} <= set(many_ids)


def test_replace_and_delete_across_shards(home, embedder, tmp_path):
    settings, corpus, ingestor = home
    mgr = CollectionManager(settings)
    files = sorted(corpus.glob("*.txt"))[:6]
    for f in files[:3]:
        f.write_text(f.read_text() + "\n\nAddendum: zebrafish telomerase quasar assay.")
    for name in ("one", "many"):
        summary = ingestor.ingest([corpus], name)
        assert summary.replaced == 3 and summary.unchanged == 147
    retriever = HybridRetriever(embedder)
    request = RetrieveRequest(query="zebrafish telomerase quasar", k=5)
    with mgr.open("one") as one, mgr.open("many") as many:
        assert candidates(many.query(5.0), embedder, request.query) == candidates(one, embedder, request.query)
        assert {h.source for h in retriever.retrieve(many, request)[:3]} == {str(f) for f in files[:3]}
        assert many.info().documents == 150
    # Delete by global id: each document leaves its own shard.
    with mgr.open("many", writable=True) as many:
        gone = [d for d in many.documents() if d.source in {str(f) for f in files}]
        assert len({shard_of(d.source, SHARDS) for d in gone}) > 1
        assert many.delete_documents([d.doc_id for d in gone]) == 6
    with mgr.open("one", writable=True) as one:
        one.delete_documents([d.doc_id for d in one.documents() if d.source in {str(f) for f in files}])
    with mgr.open("one") as one, mgr.open("many") as many:
        assert many.info().documents == one.info().documents == 144
        for state in many.index_state()["shards"]:
            assert state["index_ids"] == state["record_ids"]
        for claim in claims(10):
            assert candidates(many.query(5.0), embedder, claim) == candidates(one, embedder, claim)


def test_shard_count_is_checked(home):
    settings, corpus, ingestor = home
    with pytest.raises(ConflictError, match="3 shards, not 2"):
        ingestor.ingest([corpus], "many", shards=2)
    with pytest.raises(ConflictError, match="no shards, not 2"):
        ingestor.ingest([corpus], "one", shards=2)


def test_slow_or_failing_shard_gives_partial_results(home, embedder, monkeypatch):
    settings, _, _ = home
    service = RAGService(settings.model_copy(update={"shard_timeout": 5.0}), embedder=embedder)
    request = RetrieveRequest(query=claims(5)[4], k=10)
    full = service.retrieve("many", request)
    assert not full.partial and full.failed_shards == [] and len(full.hits) == 10

    col = service.collection("many")
    slow = col.shards[1]
    real = slow.dense_ids

    release = threading.Event()

    def stuck(*args, **kwargs):
        release.wait(120)  # a shard that hangs (until the test ends)
        return real(*args, **kwargs)

    monkeypatch.setattr(slow, "dense_ids", stuck)
    started = time.monotonic()
    partial = service.retrieve("many", request)
    assert time.monotonic() - started < 60  # did not wait for the stuck shard
    assert partial.partial
    assert [(f.shard, f.stage, f.reason) for f in partial.failed_shards] == [("many#1", "dense", "timeout")]
    assert partial.hits and all(shard_of(h.source, SHARDS) != 1 for h in partial.hits)
    assert json.loads(partial.model_dump_json())["failed_shards"][0]["reason"] == "timeout"

    def broken(*args, **kwargs):
        raise OSError("disk gone")

    for shard in col.shards:
        monkeypatch.setattr(shard, "lexical_index", broken)
    with pytest.raises(ShardsUnavailableError, match="no shard of collection 'many' answered"):
        service.retrieve("many", request)
    dense_only = service.retrieve("many", request.model_copy(update={"mode": "dense"}))
    assert dense_only.failed_shards[0].shard == "many#1" and len(dense_only.hits) == 10
    release.set()
    service.close()


def test_delete_sharded_collection(home, embedder):
    settings, corpus, ingestor = home
    mgr = CollectionManager(settings)
    ingestor.ingest(sorted(corpus.glob("*.txt"))[:5], "scratch", shards=2)
    with mgr.open("scratch", writable=True):
        with pytest.raises(ConflictError):
            mgr.delete("scratch")
    mgr.delete("scratch")
    assert not mgr.exists("scratch") and "scratch" not in mgr.names()


def test_remote_shard_over_http(home, embedder, models_home):
    """Shard 1 answered by a real `rag serve --shard` on loopback: the same results as all
    in this process; once the server is killed, the search is partial and says why."""
    from tests.api_server import start_server

    settings, _, _ = home
    server = start_server(settings.home, models_home, args=("--shard",), wait_for="/healthz")
    try:
        remote = settings.model_copy(update={"shard_urls": f"many#1={server.url}", "shard_timeout": 20.0})
        mgr = CollectionManager(remote)
        with mgr.open("many") as many, CollectionManager(settings).open("many") as local:
            assert type(many.query().shards[1]).__name__ == "HttpShard"
            for claim in claims(5):
                got = candidates(many.query(20.0), embedder, claim)
                assert got == candidates(local.query(20.0), embedder, claim), claim
            filters = SearchFilters(doc_ids=[d.doc_id for d in local.documents()][:30])
            request = RetrieveRequest(query=claims(1)[0], k=5, filters=filters)
            retriever = HybridRetriever(embedder)
            assert ranking(retriever, many.query(20.0), request) == ranking(retriever, local.query(20.0), request)
            server.kill()
            view = many.query(20.0)
            hits = retriever.retrieve(view, RetrieveRequest(query=claims(1)[0], k=5))
            assert hits and view.partial
            assert [(f.shard, f.stage, f.reason) for f in view.failures] == [("many#1", "dense", "error")]
    finally:
        if server.proc.poll() is None:
            server.stop()


def test_shard_route_refuses_bad_requests(home, embedder):
    """Mistakes get a 4xx with the structured error body, and /retrieve reports partial results."""
    from fastapi.testclient import TestClient

    from rag.api import create_app

    settings, _, _ = home
    service = RAGService(settings, embedder=embedder)
    client = TestClient(create_app(settings, service, warm_up=False), base_url="http://127.0.0.1",
                        raise_server_exceptions=False)
    vector = [0.0] * embedder.dimension
    cases = [
        ("/v1/shards/one/0/dense", {"vector": vector, "k": 3}, 404),    # not a sharded collection
        ("/v1/shards/many/7/dense", {"vector": vector, "k": 3}, 404),   # no such shard
        ("/v1/shards/many/0/dense", {"vector": [0.1, 0.2], "k": 3}, 400),
        ("/v1/shards/many/0/lexical", {"query": "cell", "k": 3, "stats": {"df": 3}}, 400),
        ("/v1/shards/many/0/merge", {}, 422),
    ]
    for path, body, status in cases:
        reply = client.post(path, json=body)
        assert reply.status_code == status, (path, reply.text)
        assert reply.json()["error"]["type"], path
    stats = client.post("/v1/shards/many/0/term_stats", json={"query": "cell biology"}).json()
    assert stats["chunks"] > 0 and set(stats["df"]) <= {"cell", "biolog"}
    found = client.post("/v1/collections/many/retrieve", json={"query": "cell biology", "k": 3}).json()
    assert found["partial"] is False and found["failed_shards"] == [] and len(found["hits"]) == 3
    service.close()
