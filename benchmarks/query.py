"""Query-side benchmark: retrieval latency and recall, answer latency, pipeline overhead, HTTP throughput.

Figures printed (medians and percentiles over many queries, measured in this run):

1. Hybrid retrieval p50/p95 at each size (default 10k and 100k chunks) and index type
   (``--index-types flat,hnsw,ivf,auto``): the whole retrieval with the query embedding,
   the same without it (the query vector looked up), and each part (embedding, dense
   search, BM25, fusion + fetching the rows); the median [min-max] over ``--repeats``
   runs. Recall@10 of the dense search against the exact top 10, and with ``--sweep``
   recall and latency across efSearch (HNSW) or nprobe (IVF). The chunks are windows of
   1-7 real sentences (SQuAD 2.0, SciFact); their vectors are built from cached real
   sentence vectors (see ``benchmarks/_corpus.py``).
2. Time to first token and total answer latency with llama.cpp, and the overhead of
   the whole pipeline against calling llama.cpp directly with the same prompt.
3. Throughput with 8 concurrent clients through the HTTP API (retrieve, and ask).

Run: ``python benchmarks/query.py [--sizes 10000,100000] [--index-types auto] [--sweep]
[--encoder-backend onnx-int8] [--questions 5] [--http 1] [--model NAME]``
"""

from __future__ import annotations

import argparse
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._common import DEFAULT_DATA, default_models_home, load_embedder, machine, make_settings, note  # noqa: E402


def pct(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q / 100 * (len(values) - 1))))]


def questions(data: Path, n: int) -> list[str]:
    squad = json.loads((data / "squad2" / "squad2_dev.json").read_text())
    qs = [qa["question"] for art in squad["data"] for p in art["paragraphs"] for qa in p["qas"] if not qa["is_impossible"]]
    return random.Random(2).sample(qs, n)


def build_collection(settings, name: str, texts: list[str], vectors) -> float:
    """Commit ``texts`` as chunks (100 per document) with their ``vectors``; returns seconds."""
    from rag.store import CollectionManager
    from rag.store.base import ChunkRecord, NewDocument

    t = time.perf_counter()
    with CollectionManager(settings).open_or_create(name, embedding_model=settings.embedding_model,
                                                    dimension=vectors.shape[1]) as col:
        docs = []
        for d in range(0, len(texts), 100):
            part = texts[d:d + 100]
            chunks = [ChunkRecord(ordinal=i, page=None, start=0, end=len(s), text=s) for i, s in enumerate(part)]
            docs.append(NewDocument(source=f"/bench/doc{d // 100}.txt", title=f"doc {d // 100}", kind="text",
                                    content_hash=str(d), size=1, mtime=0.0, pages=1, chunks=chunks,
                                    vectors=vectors[d:d + 100]))
            if len(docs) == 50:
                col.commit(docs)
                docs = []
        if docs:
            col.commit(docs)
        col.save_index()
    return time.perf_counter() - t


def clone_as(settings, source: str, target: str, index_type: str) -> float:
    """Copy collection ``source`` (records and BM25 index) to ``target`` with another index
    type, and build and save that index; returns the index build seconds."""
    import shutil

    from rag.store import CollectionManager

    src, dst = settings.collections_dir / source, settings.collections_dir / target
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("index", "write.lock"))
    manifest = json.loads((dst / "manifest.json").read_text())
    (dst / "manifest.json").write_text(json.dumps({**manifest, "name": target, "index_type": index_type}))
    t = time.perf_counter()
    with CollectionManager(settings).open(target, writable=True) as col:
        col.save_index()
    return time.perf_counter() - t


def replace_one(settings, name: str, vectors) -> dict:
    """Seconds to replace one 100-chunk document (commit, then save the index)."""
    from rag.store import CollectionManager
    from rag.store.base import ChunkRecord, NewDocument

    chunks = [ChunkRecord(ordinal=i, page=None, start=0, end=9, text=f"replacement chunk {i}") for i in range(100)]
    doc = NewDocument(source="/bench/doc0.txt", title="doc 0", kind="text", content_hash="new", size=1, mtime=1.0,
                      pages=1, chunks=chunks, vectors=vectors[-100:])
    with CollectionManager(settings).open(name, writable=True) as col:
        col.dense_ids(vectors[0], 1)  # load the index first
        rebuild_bm25, bm25_s = col._ensure_lexical, []

        def timed_bm25():
            t = time.perf_counter()
            out = rebuild_bm25()
            bm25_s.append(time.perf_counter() - t)
            return out

        col._ensure_lexical = timed_bm25  # to tell the BM25 rebuild from the FAISS save
        t0 = time.perf_counter()
        col.commit([doc])
        t1 = time.perf_counter()
        col.save_index()
        t2 = time.perf_counter()
    return {"commit_s": t1 - t0, "save_s": t2 - t1, "bm25_s": sum(bm25_s)}


class Precomputed:
    """An embedder that looks queries up in a table (to time retrieval without embedding)."""

    def __init__(self, inner, table: dict) -> None:
        self.name, self.dimension, self._table = inner.name, inner.dimension, table

    def embed_query(self, text: str):
        return self._table[text.strip()]


def exact_neighbours(col, qvecs, k: int):
    """Exact top-``k`` chunk ids per query (numpy over every stored vector)."""
    import numpy as np

    from rag.store import records

    parts = list(records.all_vectors(col.connection, col.dimension))
    ids = np.concatenate([i for i, _ in parts])
    matrix = np.concatenate([v for _, v in parts])
    scores = qvecs @ matrix.T
    top = np.argpartition(-scores, k, axis=1)[:, :k]
    return [set(ids[row].tolist()) for row in top]


def recall_at(col, qvecs, exact, k: int) -> float:
    """Mean share of the exact top-``k`` that the collection's index returns."""
    found = [len({i for i, _ in col.dense_ids(v, k)} & ex) / k for v, ex in zip(qvecs, exact)]
    return statistics.mean(found)


def retrieval_latency(service, timed, name: str, qs: list[str], qvecs, repeats: int) -> dict:
    """Hybrid retrieval p50/p95 with query embedding (``service``) and without (``timed``,
    whose embedder looks the vector up), and each part; median [min, max] over ``repeats``."""
    from rag.retrieve.fusion import weighted_fusion
    from rag.schemas import RetrieveRequest

    col = service.collection(name)
    for svc in (service, timed):
        svc.retrieve(name, RetrieveRequest(query=qs[0], k=10))  # loads the indexes
    keys = ("total", "no-embed", "embed", "dense", "bm25", "fuse+fetch")
    runs = {k: {"p50": [], "p95": []} for k in keys}
    for _ in range(repeats):
        parts = {k: [] for k in keys}
        for q, v in zip(qs, qvecs):
            t0 = time.perf_counter()
            service.retrieve(name, RetrieveRequest(query=q, k=10, mode="hybrid"))
            t1 = time.perf_counter()
            timed.retrieve(name, RetrieveRequest(query=q, k=10, mode="hybrid"))
            t2 = time.perf_counter()
            parts["total"].append(t1 - t0)
            parts["no-embed"].append(t2 - t1)
            t0 = time.perf_counter()
            service.embedder.embed_query(q)
            t1 = time.perf_counter()
            dense = col.dense_ids(v, 50)
            t2 = time.perf_counter()
            lexical = col.lexical_ids(q, 50)
            t3 = time.perf_counter()
            col.hits(weighted_fusion(dense, lexical, dense_weight=service.settings.fusion_dense_weight)[:10])
            t4 = time.perf_counter()
            for key, a, b in (("embed", t0, t1), ("dense", t1, t2), ("bm25", t2, t3), ("fuse+fetch", t3, t4)):
                parts[key].append(b - a)
        for k, v in parts.items():
            runs[k]["p50"].append(1000 * statistics.median(v))
            runs[k]["p95"].append(1000 * pct(v, 95))
    return {k: {stat: {"median_ms": statistics.median(v), "min_ms": min(v), "max_ms": max(v)}
                for stat, v in r.items()} for k, r in runs.items()}


def sweep(col, qvecs, exact, k: int = 10) -> list[dict]:
    """Recall@k and dense search p50/p95 across efSearch (HNSW) or nprobe (IVF) values."""
    faiss = __import__("faiss")
    index = col._index
    inner = faiss.downcast_index(index.faiss.index)
    rows = []
    values = (16, 24, 32, 48, 64, 96, 128, 192) if index.kind == "hnsw" else (4, 8, 12, 16, 24, 32, 48, 64)
    for value in values:
        if index.kind == "hnsw":
            inner.hnsw.efSearch = col._params.hnsw_ef_search = value
        else:
            inner.nprobe = col._params.ivf_nprobe = value
        times = []
        for v in qvecs:
            t = time.perf_counter()
            col.dense_ids(v, 50)
            times.append(time.perf_counter() - t)
        rows.append({"param": value, "recall": recall_at(col, qvecs, exact, k),
                     "p50_ms": 1000 * statistics.median(times), "p95_ms": 1000 * pct(times, 95)})
    return rows


def answer_latency(service, name: str, qs: list[str]) -> dict:
    """Pipeline ask vs llama.cpp alone on the same prompt."""
    from rag.answer.prompt import build_prompt
    from rag.schemas import AskRequest, RetrieveRequest

    gen = service.generator
    gen.generate([{"role": "user", "content": "Say hi."}], max_tokens=4)  # load the model
    rows = []
    for q in qs:
        req = AskRequest(query=q, k=5, max_tokens=64)
        t = time.perf_counter()
        resp = service.ask(name, req)
        pipeline_s = time.perf_counter() - t
        hits = service.retrieve(name, RetrieveRequest(query=q, k=5)).hits
        prompt = build_prompt(q, hits, count_tokens=gen.count_tokens, context_window=gen.context_window, max_tokens=64)
        g = gen.generate(prompt.messages, max_tokens=64)
        rows.append({"pipeline_s": pipeline_s, "direct_s": g.seconds, "ttft_s": resp.timings.get("first_token"),
                     "direct_ttft_s": g.time_to_first_token, "tokens": g.completion_tokens,
                     "answerable": resp.answerable})
    med = lambda key: statistics.median(r[key] for r in rows if r[key] is not None)  # noqa: E731
    over = [r["pipeline_s"] - r["direct_s"] for r in rows]
    return {"questions": len(rows), "pipeline_total_p50_s": med("pipeline_s"), "direct_total_p50_s": med("direct_s"),
            "ttft_p50_s": med("ttft_s"), "direct_ttft_p50_s": med("direct_ttft_s"),
            "overhead_p50_s": statistics.median(over),
            "overhead_p50_pct": 100 * statistics.median(o / r["direct_s"] for o, r in zip(over, rows))}


def http_throughput(settings, retrieve_name: str, ask_name: str, qs: list[str], clients: int = 8, per_client: int = 25,
                    ask: int = 0) -> dict:
    """Requests/s of ``clients`` concurrent SDK clients against a real ``rag serve``."""
    import os

    from rag.client import RAGClient

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "RAG_HOME": str(settings.home), "RAG_MODELS_HOME": str(settings.models_dir),
           "RAG_GENERATOR_MODEL": settings.generator_model}
    proc = subprocess.Popen([sys.executable, "-m", "rag.cli.main", "serve", "--port", str(port)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        client = RAGClient(f"http://127.0.0.1:{port}", timeout=600)
        client.wait_until_ready(timeout=600)
        out = {}
        for kind, count in (("retrieve", per_client), ("ask", ask)):
            if not count:
                continue
            latencies: list[float] = []
            lock = threading.Lock()

            def worker(i: int) -> None:
                c = RAGClient(f"http://127.0.0.1:{port}", timeout=600)
                for j in range(count):
                    q = qs[(i * count + j) % len(qs)]
                    t = time.perf_counter()
                    (c.retrieve(retrieve_name, q, k=10) if kind == "retrieve" else c.ask(ask_name, q, max_tokens=32))
                    with lock:
                        latencies.append(time.perf_counter() - t)

            t0 = time.perf_counter()
            threads = [threading.Thread(target=worker, args=(i,)) for i in range(clients)]
            for th in threads:
                th.start()
            for th in threads:
                th.join()
            wall = time.perf_counter() - t0
            out[kind] = {"clients": clients, "requests": len(latencies), "per_s": len(latencies) / wall,
                         "p50_ms": 1000 * statistics.median(latencies), "p95_ms": 1000 * pct(latencies, 95)}
        return out
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="10000,100000")
    ap.add_argument("--index-types", default="auto", help="comma-separated: auto, flat, hnsw, ivf")
    ap.add_argument("--queries", type=int, default=200, help="queries per retrieval measurement")
    ap.add_argument("--repeats", type=int, default=3, help="latency runs per index (median [range] printed)")
    ap.add_argument("--sweep", action="store_true", help="also sweep efSearch / nprobe: recall@10 and latency")
    ap.add_argument("--encoder-backend", default="", help="torch, onnx or onnx-int8 (default: the configured one)")
    ap.add_argument("--vector-cache", type=Path, default=None, help="where sentence vectors are cached")
    ap.add_argument("--questions", type=int, default=5, help="answers for the llama.cpp measurement (0: skip)")
    ap.add_argument("--model", default="", help="generator (registry name or GGUF); default: the configured one")
    ap.add_argument("--http", type=int, default=1, help="HTTP throughput measurement (0: skip)")
    ap.add_argument("--http-ask", type=int, default=1, help="ask requests per HTTP client (0: skip)")
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)

    from benchmarks._corpus import cached_vectors, chunk_vectors, default_cache, windows
    from rag.pipeline import RAGService

    result = {"machine": machine()}
    sizes = [int(s) for s in args.sizes.split(",") if s]
    kinds = [k for k in args.index_types.split(",") if k]
    qs = questions(args.data, args.queries)
    overrides = {"generator_model": args.model}
    if args.encoder_backend:
        overrides["encoder_backend"] = args.encoder_backend
    with tempfile.TemporaryDirectory() as tmp:
        settings = make_settings(Path(tmp), default_models_home(), **overrides)
        embedder = load_embedder(settings)
        result["encoder_backend"] = settings.encoder_backend
        service = RAGService(settings, embedder=embedder)
        texts, sentences_, members = windows(args.data, max(sizes))
        cache = args.vector_cache or default_cache()
        note(f"sentence vectors ({len(sentences_):,} sentences; cached in {cache})")
        vectors = chunk_vectors(cached_vectors(embedder, sentences_, cache, "sentences"),
                                members)
        qvecs = cached_vectors(embedder, qs, cache, "questions")
        timed = RAGService(settings, embedder=Precomputed(embedder, dict(zip([q.strip() for q in qs], qvecs))))
        for n in sizes:
            note(f"building the {n:,}-chunk collection")
            base = f"bench{n}"
            build_s = build_collection(settings.model_copy(update={"index_type": "flat"}), base, texts[:n], vectors[:n])
            exact = exact_neighbours(service.collection(base), qvecs, 10)
            for kind in kinds:
                name = f"{base}-{kind}"
                index_s = clone_as(settings, base, name, kind)
                col = service.collection(name)
                note(f"measuring {name} ({col.index_state()['kind']})")
                r = {"build_s": build_s, "index_s": index_s, "kind": col.index_state()["kind"],
                     "recall@10": recall_at(col, qvecs, exact, 10)}
                r.update(retrieval_latency(service, timed, name, qs, qvecs, args.repeats))
                if args.sweep and r["kind"] in ("hnsw", "ivf"):
                    r["sweep"] = sweep(col, qvecs, exact)
                r["replace"] = replace_one(settings, name, vectors[:n])
                result[f"retrieval_{n}_{kind}"] = r
                note(f"{name}: {json.dumps(r)}")  # kept even if a later step fails
        timed.close()
        if args.questions:
            # Answers need real vectors: a small collection of real, embedded paragraphs.
            from ingest.pipeline import Ingestor

            corpus = Path(tmp) / "squad"
            corpus.mkdir()
            squad = json.loads((args.data / "squad2" / "squad2_dev.json").read_text())
            for i, p in enumerate(squad["data"][0]["paragraphs"]):
                (corpus / f"p{i:03d}.txt").write_text(p["context"])
            Ingestor(settings, embedder=embedder).ingest([corpus], "answers")
            aq = [qa["question"] for p in squad["data"][0]["paragraphs"] for qa in p["qas"] if not qa["is_impossible"]]
            result["answers"] = answer_latency(service, "answers", aq[: args.questions])
        service.close()
        if args.http:
            result["http"] = http_throughput(settings, f"bench{sizes[0]}", "answers", qs,
                                             ask=args.http_ask if args.questions else 0)
    result["loadavg_after"] = [round(x, 2) for x in os.getloadavg()]
    if args.json:
        print(json.dumps(result, indent=1))
        return 0
    m = result["machine"]
    print(f"machine: {m['cores']} cores, {m.get('cpu', '')}; load before {m['loadavg']}, "
          f"after {result['loadavg_after']}; encoder backend {result['encoder_backend']}")
    for n in sizes:
        for kind in kinds:
            r = result[f"retrieval_{n}_{kind}"]
            print(f"\nhybrid retrieval at {n:,} chunks, index {kind} -> {r['kind']} "
                  f"(recall@10 vs exact {r['recall@10']:.3f}; index built in {r['index_s']:.1f} s); "
                  f"median [min-max] of {args.repeats} runs x {len(qs)} queries:")
            for part in ("total", "no-embed", "embed", "dense", "bm25", "fuse+fetch"):
                p50, p95 = r[part]["p50"], r[part]["p95"]
                print(f"  {part:11} p50 {p50['median_ms']:6.2f} [{p50['min_ms']:.2f}-{p50['max_ms']:.2f}] ms   "
                      f"p95 {p95['median_ms']:6.2f} [{p95['min_ms']:.2f}-{p95['max_ms']:.2f}] ms")
            rep = r["replace"]
            print(f"  replacing one 100-chunk document: commit {rep['commit_s'] * 1000:.0f} ms, "
                  f"save {rep['save_s'] * 1000:.0f} ms (of which BM25 rebuild {rep['bm25_s'] * 1000:.0f} ms)")
            for row in r.get("sweep", []):
                label = "efSearch" if r["kind"] == "hnsw" else "nprobe"
                print(f"    {label} {row['param']:4}: recall@10 {row['recall']:.3f}, dense p50 {row['p50_ms']:.2f} ms, "
                      f"p95 {row['p95_ms']:.2f} ms")
    if "answers" in result:
        a = result["answers"]
        print(f"\nanswers ({a['questions']} questions, llama.cpp): pipeline p50 {a['pipeline_total_p50_s']:.2f} s, "
              f"direct p50 {a['direct_total_p50_s']:.2f} s, TTFT p50 {a['ttft_p50_s']:.2f} s "
              f"(direct {a['direct_ttft_p50_s']:.2f} s); overhead p50 {a['overhead_p50_s'] * 1000:.0f} ms "
              f"({a['overhead_p50_pct']:.1f}%)")
    for kind, h in result.get("http", {}).items():
        print(f"\nHTTP {kind}: {h['clients']} clients, {h['requests']} requests, {h['per_s']:.1f} req/s, "
              f"p50 {h['p50_ms']:.0f} ms, p95 {h['p95_ms']:.0f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
