"""Query-side benchmark: retrieval latency, answer latency, pipeline overhead, HTTP throughput.

Figures printed (medians and percentiles over many queries, measured in this run):

1. Retrieval latency p50/p95 at 10k and 100k chunks, for the whole retrieval
   (query embedding + FAISS + BM25 + fusion + fetching the rows) and its parts.
   The chunks are real sentences (SQuAD 2.0 and SciFact); their vectors are random
   unit vectors, since search cost depends on count and dimension, not on content,
   and embedding 100k chunks would take the benchmark ~15 minutes on 2 cores.
2. Time to first token and total answer latency with llama.cpp, and the overhead of
   the whole pipeline against calling llama.cpp directly with the same prompt.
3. Throughput with 8 concurrent clients through the HTTP API (retrieve, and ask).

Run: ``python benchmarks/query.py [--sizes 10000,100000] [--questions 5] [--model NAME]``
"""

from __future__ import annotations

import argparse
import json
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

from benchmarks._common import DEFAULT_DATA, default_models_home, load_embedder, machine, make_settings  # noqa: E402


def pct(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q / 100 * (len(values) - 1))))]


def sentences(data: Path, n: int, seed: int = 1) -> list[str]:
    """Real sentences from SQuAD paragraphs and SciFact abstracts, cycled up to ``n``."""
    out = []
    squad = json.loads((data / "squad2" / "squad2_dev.json").read_text())
    for art in squad["data"]:
        for para in art["paragraphs"]:
            out.extend(s.strip() + "." for s in para["context"].split(". ") if len(s) > 30)
    with (data / "scifact" / "corpus.jsonl").open() as fh:
        for line in fh:
            out.extend(s for s in json.loads(line)["abstract"] if len(s) > 30)
    rng = random.Random(seed)
    rng.shuffle(out)
    return [out[i % len(out)] + ("" if i < len(out) else f" ({i // len(out)})") for i in range(n)]


def questions(data: Path, n: int) -> list[str]:
    squad = json.loads((data / "squad2" / "squad2_dev.json").read_text())
    qs = [qa["question"] for art in squad["data"] for p in art["paragraphs"] for qa in p["qas"] if not qa["is_impossible"]]
    return random.Random(2).sample(qs, n)


def build_collection(settings, name: str, texts: list[str], dim: int) -> float:
    """Commit ``texts`` as chunks (100 per document) with random unit vectors; returns seconds."""
    import numpy as np

    from rag.store import CollectionManager
    from rag.store.base import ChunkRecord, NewDocument

    rng = np.random.default_rng(0)
    t = time.perf_counter()
    with CollectionManager(settings).open_or_create(name, embedding_model=settings.embedding_model, dimension=dim) as col:
        docs = []
        for d in range(0, len(texts), 100):
            part = texts[d:d + 100]
            vecs = rng.standard_normal((len(part), dim)).astype("float32")
            vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
            chunks = [ChunkRecord(ordinal=i, page=None, start=0, end=len(s), text=s) for i, s in enumerate(part)]
            docs.append(NewDocument(source=f"/bench/doc{d // 100}.txt", title=f"doc {d // 100}", kind="text",
                                    content_hash=str(d), size=1, mtime=0.0, pages=1, chunks=chunks, vectors=vecs))
            if len(docs) == 50:
                col.commit(docs)
                docs = []
        if docs:
            col.commit(docs)
        col.save_index()
    return time.perf_counter() - t


def retrieval_latency(service, name: str, qs: list[str]) -> dict:
    """Per-query seconds of the whole hybrid retrieval and of its parts."""
    from rag.retrieve.fusion import reciprocal_rank_fusion
    from rag.schemas import RetrieveRequest

    col = service.collection(name)
    service.retrieve(name, RetrieveRequest(query="warm up", k=10))  # loads the indexes
    parts = {"total": [], "embed": [], "faiss": [], "bm25": [], "fuse+fetch": []}
    for q in qs:
        t0 = time.perf_counter()
        service.retrieve(name, RetrieveRequest(query=q, k=10, mode="hybrid"))
        parts["total"].append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        v = service.embedder.embed_query(q)
        t1 = time.perf_counter()
        dense = col.dense_ids(v, 50)
        t2 = time.perf_counter()
        lexical = col.lexical_ids(q, 50)
        t3 = time.perf_counter()
        col.hits(reciprocal_rank_fusion(dense, lexical)[:10])
        t4 = time.perf_counter()
        for key, a, b in (("embed", t0, t1), ("faiss", t1, t2), ("bm25", t2, t3), ("fuse+fetch", t3, t4)):
            parts[key].append(b - a)
    return {k: {"p50_ms": 1000 * statistics.median(v), "p95_ms": 1000 * pct(v, 95)} for k, v in parts.items()}


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
    ap.add_argument("--queries", type=int, default=200, help="queries per retrieval measurement")
    ap.add_argument("--questions", type=int, default=5, help="answers for the llama.cpp measurement (0: skip)")
    ap.add_argument("--model", default="", help="generator (registry name or GGUF); default: the configured one")
    ap.add_argument("--http-ask", type=int, default=1, help="ask requests per HTTP client (0: skip)")
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)

    from rag.pipeline import RAGService

    result = {"machine": machine()}
    sizes = [int(s) for s in args.sizes.split(",") if s]
    qs = questions(args.data, args.queries)
    with tempfile.TemporaryDirectory() as tmp:
        settings = make_settings(Path(tmp), default_models_home(), generator_model=args.model)
        embedder = load_embedder(settings)
        service = RAGService(settings, embedder=embedder)
        texts = sentences(args.data, max(sizes))
        for n in sizes:
            build_s = build_collection(settings, f"bench{n}", texts[:n], embedder.dimension)
            result[f"retrieval_{n}"] = retrieval_latency(service, f"bench{n}", qs)
            result[f"retrieval_{n}"]["build_s"] = build_s
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
        result["http"] = http_throughput(settings, f"bench{sizes[0]}", "answers", qs,
                                         ask=args.http_ask if args.questions else 0)
    if args.json:
        print(json.dumps(result, indent=1))
        return 0
    m = result["machine"]
    print(f"machine: {m['cores']} cores, {m.get('cpu', '')}, load {m['loadavg']}")
    for n in sizes:
        r = result[f"retrieval_{n}"]
        print(f"\nretrieval at {n:,} chunks (collection built in {r['build_s']:.0f} s):")
        for part in ("total", "embed", "faiss", "bm25", "fuse+fetch"):
            print(f"  {part:11} p50 {r[part]['p50_ms']:7.2f} ms   p95 {r[part]['p95_ms']:7.2f} ms")
    if "answers" in result:
        a = result["answers"]
        print(f"\nanswers ({a['questions']} questions, llama.cpp): pipeline p50 {a['pipeline_total_p50_s']:.2f} s, "
              f"direct p50 {a['direct_total_p50_s']:.2f} s, TTFT p50 {a['ttft_p50_s']:.2f} s "
              f"(direct {a['direct_ttft_p50_s']:.2f} s); overhead p50 {a['overhead_p50_s'] * 1000:.0f} ms "
              f"({a['overhead_p50_pct']:.1f}%)")
    for kind, h in result["http"].items():
        print(f"\nHTTP {kind}: {h['clients']} clients, {h['requests']} requests, {h['per_s']:.1f} req/s, "
              f"p50 {h['p50_ms']:.0f} ms, p95 {h['p95_ms']:.0f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
