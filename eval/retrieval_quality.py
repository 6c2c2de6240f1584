"""Retrieval quality on SciFact: nDCG@10, recall@10 and MRR for dense, BM25 and hybrid.

The corpus goes through the real ingestion pipeline into a fresh collection, then
each claim is run through the real retriever in each mode. Chunks map back to
their abstracts (first occurrence wins), as BEIR scores documents.

Run: ``python -m eval.retrieval_quality [--data ../shared/datasets/scifact] [--json]``
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

from eval.datasets.scifact import load_scifact, write_corpus
from eval.metrics.retrieval import dedupe, mrr, ndcg_at_k, recall_at_k

MODES = ("dense", "bm25", "hybrid")
DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "datasets" / "scifact"


def evaluate(data_dir: Path, settings, *, k: int = 10, limit: int | None = None) -> dict:
    """Ingest the corpus and score every mode; returns {mode: {metric: value}} plus counts."""
    from ingest.pipeline import Ingestor
    from rag.pipeline import RAGService
    from rag.schemas import RetrieveRequest

    data = load_scifact(data_dir)
    with tempfile.TemporaryDirectory() as tmp:
        write_corpus(data, Path(tmp) / "corpus")
        ingestor = Ingestor(settings)
        t = time.perf_counter()
        summary = ingestor.ingest([Path(tmp) / "corpus"], "scifact-eval")
        ingest_s = time.perf_counter() - t
        service = RAGService(settings, embedder=ingestor.embedder)
        doc_of = {}
        col = service.collection("scifact-eval")
        for d in col.documents():
            doc_of[d.doc_id] = Path(d.source).stem
        queries = list(data.queries.items())[:limit]
        results = {"queries": len(queries), "chunks": summary.chunks, "ingest_seconds": round(ingest_s, 1)}
        for mode in MODES:
            scores = {"ndcg@10": [], f"recall@{k}": [], "mrr@10": []}
            latency = []
            for qid, text in queries:
                t = time.perf_counter()
                # Ask for more chunks than k: several chunks of one abstract count once.
                hits = service.retrieve("scifact-eval", RetrieveRequest(query=text, k=3 * k, mode=mode)).hits
                latency.append(time.perf_counter() - t)
                ranked = dedupe([doc_of[h.doc_id] for h in hits])[:k]
                rel = data.qrels[qid]
                scores["ndcg@10"].append(ndcg_at_k(ranked, rel, 10))
                scores[f"recall@{k}"].append(recall_at_k(ranked, rel, k))
                scores["mrr@10"].append(mrr(ranked, rel, 10))
            results[mode] = {m: round(statistics.fmean(v), 4) for m, v in scores.items()}
            results[mode]["median_ms"] = round(1000 * statistics.median(latency), 1)
        service.close()
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--limit", type=int, default=None, help="score only the first N claims")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    from rag.config import get_settings

    base = get_settings()
    with tempfile.TemporaryDirectory() as home:
        settings = get_settings(home=home, models_home=base.models_dir)
        res = evaluate(args.data, settings, limit=args.limit)
    if args.json:
        print(json.dumps(res))
        return 0
    print(f"SciFact: {res['queries']} claims, {res['chunks']} chunks (ingested in {res['ingest_seconds']} s)")
    print(f"{'mode':8} {'nDCG@10':>8} {'R@10':>7} {'MRR@10':>7} {'p50 ms':>7}")
    for mode in MODES:
        r = res[mode]
        print(f"{mode:8} {r['ndcg@10']:8.4f} {r['recall@10']:7.4f} {r['mrr@10']:7.4f} {r['median_ms']:7.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
