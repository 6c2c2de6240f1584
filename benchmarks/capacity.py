"""Capacity benchmark: index memory, build time, query latency and recall per FAISS index kind,
measured at the sizes given and extrapolated to 10M and 100M chunks.

Kinds: ``flat`` (exact), ``hnsw`` and ``ivf`` exactly as a collection builds them
(:func:`rag.store.index.new_index`: HNSW M=32, efConstruction=80, efSearch from RAG_HNSW_EF_SEARCH (128); IVF-Flat
with ~4·sqrt(n) lists trained on the first 100k vectors, nprobe=16), and ``ivfpq``
(the same lists, product-quantized to 48 bytes a vector; not a collection option today),
also measured as ``ivfpq+rr``: its 100 best re-scored with the exact vectors (which a
collection keeps in its SQLite records on disk, not in memory; here they are in memory,
so the time to read 100 rows from disk is not included).

The vectors are MiniLM-sized (384-d, unit length). Building real embeddings of a
million chunks would take hours on a small machine, so the base vectors are drawn
around real MiniLM embeddings of SQuAD and SciFact sentences (each base vector is an
anchor plus Gaussian noise, renormalised) and the queries are real SQuAD questions
embedded with MiniLM. Memory, build time and latency depend on count and dimension,
not content; recall does depend on content and is only indicative.

Measured per kind and size: index bytes (``faiss.serialize_index``), build time
(train + add, all cores), single-query latency p50/p95 (one thread, as ``rag serve``
searches with ``query_threads=1``; 3 passes over the queries) and recall@10 against
the exact result.

Run (each size under the shared lock; 1M chunks needs ~3 GB of memory):
    python benchmarks/capacity.py --sizes 100000,300000 --json cap-small.json
    python benchmarks/capacity.py --sizes 1000000 --kinds flat,ivf,ivfpq --json cap-1m.json
    python benchmarks/capacity.py --report cap-small.json cap-1m.json --node-gib 64
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._common import (  # noqa: E402
    DEFAULT_DATA, default_models_home, load_embedder, machine, machine_line, make_settings, note,
)

DIM = 384
KINDS = ("flat", "hnsw", "ivf", "ivfpq")
#: What the plan reports: the kinds, and IVF-PQ whose 100 best are re-scored with the exact vectors.
PLANNED = (*KINDS, "ivfpq+rr")
RERANK_CANDIDATES = 100
PQ_BYTES = 48  # sub-quantizers of 8 bits: 384 dims / 48 = 8 dims each
NOISE = 0.5  # noise norm relative to the unit anchor: a base vector has cosine ~0.89 to its anchor
TARGETS = (10_000_000, 100_000_000)
GIB = 1024**3


def pct(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q / 100 * (len(values) - 1))))]


# --------------------------------------------------------------------------- data


def anchors_and_queries(n_anchors: int, n_queries: int, cache: Path, data: Path):
    """Real MiniLM embeddings: ``n_anchors`` corpus sentences and ``n_queries`` SQuAD questions (cached)."""
    import numpy as np

    if cache.exists():
        saved = np.load(cache)
        if len(saved["anchors"]) >= n_anchors and len(saved["queries"]) >= n_queries:
            return saved["anchors"][:n_anchors], saved["queries"][:n_queries]
    from benchmarks.query import questions, sentences

    settings = make_settings(Path(tempfile.mkdtemp(prefix="rag-capacity-")), default_models_home())
    embedder = load_embedder(settings)
    note(f"embedding {n_anchors} sentences and {n_queries} questions with {settings.embedding_model} (cached in {cache})")
    start = time.perf_counter()
    anchors = np.asarray(embedder.embed_batch(sentences(data, n_anchors)), dtype="float32")
    queries = np.asarray([embedder.embed_query(q) for q in questions(data, n_queries)], dtype="float32")
    note(f"  embedded in {time.perf_counter() - start:.0f} s")
    np.savez(cache, anchors=anchors, queries=queries)
    return anchors, queries


def base_vectors(n: int, anchors, seed: int = 0):
    """``n`` unit vectors, each a random anchor plus Gaussian noise (built in blocks to bound memory)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    out = np.empty((n, DIM), dtype="float32")
    for start in range(0, n, 100_000):
        stop = min(n, start + 100_000)
        block = anchors[rng.integers(0, len(anchors), stop - start)].copy()
        block += rng.standard_normal(block.shape, dtype="float32") * (NOISE / math.sqrt(DIM))
        block /= np.linalg.norm(block, axis=1, keepdims=True)
        out[start:stop] = block
    return out


# --------------------------------------------------------------------------- indexes


def build(kind: str, vectors):
    """Build ``kind`` over ``vectors`` as a collection would; returns (index, train s, add s)."""
    import faiss
    import numpy as np

    from rag.store.index import IndexParams, new_index

    ids = np.arange(len(vectors), dtype="int64")
    train = vectors[:100_000]  # what a collection trains IVF on
    start = time.perf_counter()
    if kind == "ivfpq":
        nlist = max(16, min(int(4 * len(train) ** 0.5), len(train) // 39))
        inner = faiss.IndexIVFPQ(faiss.IndexFlatIP(DIM), DIM, nlist, PQ_BYTES, 8, faiss.METRIC_INNER_PRODUCT)
        inner.train(train)
        inner.nprobe = IndexParams().ivf_nprobe
        index = faiss.IndexIDMap2(inner)
    else:
        index = new_index(kind, DIM, IndexParams(), train=train if kind == "ivf" else None)
    trained = time.perf_counter()
    for at in range(0, len(vectors), 100_000):
        index.add_with_ids(vectors[at:at + 100_000], ids[at:at + 100_000])
    return index, trained - start, time.perf_counter() - trained


def index_bytes(index) -> int:
    import faiss

    return int(faiss.serialize_index(index).nbytes)


def plain(index):
    """``search(queries) -> ids`` of the 10 best by the index alone."""
    return lambda qs: index.search(qs, 10)[1]


def reranked(index, vectors, candidates: int = RERANK_CANDIDATES):
    """``search(queries) -> ids``: the index's ``candidates`` best, re-scored with the exact vectors."""
    import numpy as np

    def search(qs):
        found = index.search(qs, candidates)[1]
        out = np.empty((len(qs), 10), dtype="int64")
        for row, (q, ids) in enumerate(zip(qs, found)):
            ids = ids[ids >= 0]
            best = ids[np.argsort(-(vectors[ids] @ q))[:10]]
            out[row, : len(best)], out[row, len(best):] = best, -1
        return out

    return search


def latencies(search, queries, passes: int = 3, limit: int | None = None):
    """Per-query seconds with one thread, ``passes`` times over the queries."""
    import faiss

    faiss.omp_set_num_threads(1)
    try:
        qs = queries[: limit or len(queries)]
        search(qs[:5])  # warm caches
        runs = []
        for _ in range(passes):
            times = []
            for q in qs:
                t0 = time.perf_counter()
                search(q[None, :])
                times.append(time.perf_counter() - t0)
            runs.append(times)
        return runs
    finally:
        faiss.omp_set_num_threads(os.cpu_count() or 1)


def recall_at_10(search, queries, truth) -> float:
    found = search(queries)
    return float(sum(len(set(f) & set(t)) for f, t in zip(found, truth)) / truth.size)


def measure(sizes, kinds, anchors, queries, latency_queries: int, on_row=lambda rows: None) -> list[dict]:
    """Measure each kind at each size; ``on_row(rows)`` after each (so a cut-short run keeps its rows)."""
    import faiss

    rows = []
    for n in sizes:
        note(f"[{n:,} chunks] generating vectors")
        vectors = base_vectors(n, anchors)
        truth = None
        for kind in kinds:
            note(f"[{n:,} chunks] {kind}: building")
            index, train_s, add_s = build(kind, vectors)
            seconds = train_s + add_s
            size = index_bytes(index)
            if kind == "flat":
                truth = index.search(queries, 10)[1]
            elif truth is None:
                exact = faiss.IndexFlatIP(DIM)
                exact.add(vectors)
                truth = exact.search(queries, 10)[1]
                del exact
            searches = [(kind, plain(index))]
            if kind == "ivfpq":  # PQ codes rank coarsely: re-score the best candidates exactly
                searches.append(("ivfpq+rr", reranked(index, vectors)))
            for name, search in searches:
                runs = latencies(search, queries, limit=latency_queries)
                pooled = [t for run in runs for t in run]
                row = {
                    "kind": name, "n": n, "bytes": size, "bytes_per_vector": size / n, "build_s": seconds,
                    "train_s": train_s, "add_s": add_s, "build_threads": os.cpu_count(),
                    "p50_ms": pct(pooled, 50) * 1e3, "p95_ms": pct(pooled, 95) * 1e3,
                    "p50_ms_per_pass": [statistics.median(r) * 1e3 for r in runs],
                    "recall_at_10": recall_at_10(search, queries, truth), "queries": len(runs[0]),
                    "passes": len(runs),
                }
                rows.append(row)
                on_row(rows)
                note(f"[{n:,} chunks] {name}: {size / 2**20:.0f} MiB, build {seconds:.1f} s, p50 {row['p50_ms']:.2f} ms, "
                     f"p95 {row['p95_ms']:.2f} ms, recall@10 {row['recall_at_10']:.3f}")
            del index
        del vectors
    return rows


# --------------------------------------------------------------------------- extrapolation


def fit(kind: str, metric: str, rows: list[dict]):
    """``f(n)`` fitted on the measured points of ``kind`` (see MODELS for the shapes)."""
    pts = sorted((r["n"], r[metric]) for r in rows if r["kind"] == kind)
    if not pts:
        return None
    shape = MODELS[metric][kind]
    if len(pts) == 1:
        (n1, y1), = pts
        scale = {"log": lambda n: math.log(n) / math.log(n1)}.get(shape, lambda n: n / n1)
        return lambda n: y1 * scale(n)
    (n1, y1), (n2, y2) = pts[0], pts[-1]
    if shape == "proportional":  # y = b n, b from the largest measurement
        return lambda n: y2 * n / n2
    if shape == "linear":  # y = a + b n
        b = (y2 - y1) / (n2 - n1)
        return lambda n: y1 + b * (n - n1)
    if shape == "log":  # y = a + b ln n
        b = (y2 - y1) / (math.log(n2) - math.log(n1))
        return lambda n: y1 + b * (math.log(n) - math.log(n1))
    exponent = math.log(y2 / y1) / math.log(n2 / n1)  # y = a n^b
    return lambda n: y2 * (n / n2) ** exponent


#: How each figure grows with the chunks in one shard.
MODELS = {
    # Memory: every kind stores a fixed number of bytes a vector (+ a fixed header/centroids).
    "bytes": dict.fromkeys(PLANNED, "linear"),
    # Adding: flat and IVF in time proportional to n, through the origin (IVF trains on at most
    # 100k vectors: a constant, the median of the measured training times, added on top);
    # HNSW inserts cost ~log n each, fitted as a power law between the measured sizes.
    "add_s": {**dict.fromkeys(PLANNED, "proportional"), "hnsw": "power"},
    # Latency: flat scans everything; IVF keeps ~1.3k lists (trained on 100k), so nprobe=16
    # lists hold n/80 vectors: linear too; HNSW walks ~log n hops.
    "p50_ms": {**dict.fromkeys(PLANNED, "linear"), "hnsw": "log"},
    "p95_ms": {**dict.fromkeys(PLANNED, "linear"), "hnsw": "log"},
}


def plan(rows: list[dict], node_gib: float, usable: float, bm25_bytes: float, targets=TARGETS) -> list[dict]:
    """Shards and per-shard figures for each target size and kind.

    One shard per node; a shard's FAISS index plus its BM25 index (``bm25_bytes`` a chunk,
    also held in memory) may take ``usable`` of the node's memory (the rest: the records'
    page cache, the encoder, the process, and a second copy of the index while a new
    generation is built and loaded).
    """
    budget = node_gib * GIB * usable
    out = []
    for kind in PLANNED:
        size, add_s = fit(kind, "bytes", rows), fit(kind, "add_s", rows)
        p50, p95 = fit(kind, "p50_ms", rows), fit(kind, "p95_ms", rows)
        if size is None:
            continue
        measured = max((r for r in rows if r["kind"] == kind), key=lambda r: r["n"])
        train_s = statistics.median(r["train_s"] for r in rows if r["kind"] == kind)
        for total in targets:
            shards = max(1, math.ceil((size(total) + bm25_bytes * total) / budget))
            per = math.ceil(total / shards)
            out.append({
                "kind": kind, "chunks": total, "index_gib": size(total) / GIB, "shards": shards,
                "chunks_per_shard": per, "gib_per_shard": size(per) / GIB,
                "ram_gib_per_shard": (size(per) + bm25_bytes * per) / GIB,
                "build_min_per_shard": (train_s + add_s(per)) / 60, "p50_ms": p50(per), "p95_ms": p95(per),
                "recall_at_10": measured["recall_at_10"], "recall_measured_at": measured["n"],
                "fitted_from": sorted({r["n"] for r in rows if r["kind"] == kind}),
            })
    return out


# --------------------------------------------------------------------------- output


def print_measured(rows: list[dict]) -> None:
    flat = {r["n"]: r for r in rows if r["kind"] == "flat"}
    print("\nMeasured (one thread per query; build on all cores):")
    print(f"{'kind':8} {'chunks':>10} {'index MiB':>10} {'B/vector':>9} {'build s':>8} "
          f"{'p50 ms':>8} {'p95 ms':>8} {'vs flat':>8} {'recall@10':>9}")
    for r in rows:
        base = flat.get(r["n"])
        ratio = f"{r['p50_ms'] / base['p50_ms']:.2f}x" if base else "-"
        print(f"{r['kind']:8} {r['n']:>10,} {r['bytes'] / 2**20:>10.0f} {r['bytes_per_vector']:>9.0f} "
              f"{r['build_s']:>8.1f} {r['p50_ms']:>8.2f} {r['p95_ms']:>8.2f} {ratio:>8} {r['recall_at_10']:>9.3f}")


def print_plan(planned: list[dict], node_gib: float, usable: float, bm25_bytes: float, cores: int) -> None:
    print(f"\nExtrapolated: one shard per node of {node_gib:g} GiB; FAISS + BM25 ({bm25_bytes:g} B/chunk) "
          f"<= {usable:.0%} of it; build times on {cores} cores, latency of one shard with one thread:")
    print(f"{'kind':8} {'chunks':>6} {'index GiB':>9} {'shards':>6} {'GiB/shard':>9} {'RAM/shard':>9} "
          f"{'build min/shard':>15} {'p50 ms':>7} {'p95 ms':>7} {'recall@10':>14}")
    for p in planned:
        chunks = f"{p['chunks'] // 1_000_000}M"
        recall = f"{p['recall_at_10']:.3f} @{p['recall_measured_at'] // 1000}k"
        print(f"{p['kind']:8} {chunks:>6} {p['index_gib']:>9.1f} {p['shards']:>6} {p['gib_per_shard']:>9.1f} "
              f"{p['ram_gib_per_shard']:>9.1f} "
              f"{p['build_min_per_shard']:>15.1f} {p['p50_ms']:>7.1f} {p['p95_ms']:>7.1f} {recall:>14}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="100000", help="comma-separated chunk counts to measure")
    ap.add_argument("--kinds", default=",".join(KINDS), help=f"comma-separated, of: {', '.join(KINDS)}")
    ap.add_argument("--anchors", type=int, default=10_000, help="real sentences embedded as anchors")
    ap.add_argument("--queries", type=int, default=300, help="real questions embedded as queries")
    ap.add_argument("--latency-queries", type=int, default=200, help="queries timed one by one (3 passes)")
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "groundrag-capacity-vectors.npz")
    ap.add_argument("--json", type=Path, help="write the measured rows (and the machine) to this file")
    ap.add_argument("--report", type=Path, nargs="+", help="skip measuring: extrapolate from these --json files")
    ap.add_argument("--node-gib", type=float, default=64.0, help="memory of one node")
    ap.add_argument("--usable", type=float, default=0.5, help="share of a node's memory one shard's indexes may take")
    ap.add_argument("--bm25-bytes", type=float, default=600.0,
                    help="memory of the BM25 index per chunk (about 600 B measured on SQuAD passages)")
    args = ap.parse_args(argv)

    info = machine()
    if args.report:
        loaded = [json.loads(p.read_text()) for p in args.report]
        latest = {(r["kind"], r["n"]): r for d in loaded for r in d["rows"]}  # later files win
        rows = sorted(latest.values(), key=lambda r: (PLANNED.index(r["kind"]), r["n"]))
        for d in loaded:
            print(f"{d.get('when', '?')}: {machine_line(d['machine'])}; after: {d.get('load_after')}")
    else:
        kinds = [k for k in args.kinds.split(",") if k]
        bad = [k for k in kinds if k not in KINDS]
        if bad:
            ap.error(f"unknown kind(s) {', '.join(bad)}; choose from {', '.join(KINDS)}")
        sizes = [int(s) for s in args.sizes.split(",") if s]
        print(machine_line(info))
        anchors, queries = anchors_and_queries(args.anchors, args.queries, args.cache, args.data)
        when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())

        def save(rows: list[dict]) -> None:
            if args.json:
                after = [round(x, 2) for x in os.getloadavg()]
                args.json.write_text(json.dumps({"when": when, "machine": info, "load_after": after, "rows": rows},
                                                indent=1))

        rows = measure(sizes, kinds, anchors, queries, args.latency_queries, on_row=save)
        print(f"load average after: {[round(x, 2) for x in os.getloadavg()]}")
    print_measured(rows)
    print_plan(plan(rows, args.node_gib, args.usable, args.bm25_bytes), args.node_gib, args.usable, args.bm25_bytes,
               info["cores"])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
