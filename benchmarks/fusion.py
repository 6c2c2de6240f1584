"""How hybrid search should join its dense and BM25 candidates: each fusion on three corpora.

Each corpus is ingested once with the defaults; for every question the dense and BM25
candidate lists (50 each, what a search for up to 12 passages takes) are fetched once, then
every fusion ranks the same lists, so only the fusion differs:

* SciFact dev: 505 claims over the whole corpus (the 2,500 abstracts of the dev data, as text files);
  nDCG@10 of the abstracts (chunks mapped to their abstract, first occurrence kept).
* SQuAD 2.0 dev, the first 8 articles: every paragraph a file, the 1,278 answerable
  questions; recall@1 / recall@5 and MRR@10 of the gold paragraph.
* FinanceBench dev: 13 filings (525 pages), 23 questions; the gold page and the gold
  filing among the top 5 / 10 chunks (a count of questions).

Rows: dense alone, BM25 alone, reciprocal rank (k = 60, the old default) and the weighted
fusion (``rag.retrieve.fusion.weighted_fusion``) at each ``--weights`` value. Deterministic
for a given encoder backend; it never fails on a figure.

Run:
    RAG_HOME=.rag-home python benchmarks/fusion.py
    RAG_HOME=.rag-home python benchmarks/fusion.py --corpora squad --weights 0.5,0.6   # a minute
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]  # see benchmarks/ingest.py
sys.path.insert(0, str(_HERE.parent))
from benchmarks._common import DEFAULT_DATA, default_models_home, machine, machine_line, make_settings  # noqa: E402

DEPTH = 50


def candidates(settings, folder: Path, name: str, questions: dict[str, str]):
    """Ingest ``folder``; per question (dense list, complete?, BM25 list, complete?), and chunk → (file stem, page)."""
    from ingest.pipeline import Ingestor
    from rag.pipeline import RAGService

    ingestor = Ingestor(settings)
    ingestor.ingest([folder], name)
    service = RAGService(settings, embedder=ingestor.embedder)
    col = service.collection(name)
    lists = {}
    for qid, text in questions.items():
        dense = col.dense_ids(ingestor.embedder.embed_query(text), DEPTH + 1)
        lexical = col.lexical_ids(text, DEPTH + 1)
        lists[qid] = (dense[:DEPTH], len(dense) <= DEPTH, lexical[:DEPTH], len(lexical) <= DEPTH)
    ids = {i for d, _, l, _ in lists.values() for i, _ in d + l}
    where = {h.chunk_id: (Path(h.source).stem, h.page) for h in col.hits([(i, 0.0) for i in ids])}
    service.close()
    return lists, where


def fusions(weights: list[float]):
    from rag.retrieve.fusion import reciprocal_rank_fusion, weighted_fusion

    out = {"dense": lambda d, dc, l, lc: d, "bm25": lambda d, dc, l, lc: l,
           "rrf (k=60)": lambda d, dc, l, lc: reciprocal_rank_fusion(d, l)}
    for w in weights:
        out[f"weighted {w:g}"] = (lambda d, dc, l, lc, w=w: weighted_fusion(
            d, l, dense_weight=w, dense_complete=dc, lexical_complete=lc))
    return out


def scifact(data: Path, home: Path, settings_for):
    from eval.datasets.scifact import load_scifact, write_corpus
    from eval.metrics.retrieval import dedupe, ndcg_at_k

    sf = load_scifact(data / "scifact")
    write_corpus(sf, home / "scifact")
    lists, where = candidates(settings_for(home), home / "scifact", "scifact", sf.queries)

    def score(fuse):
        return {"nDCG@10": statistics.fmean(
            ndcg_at_k(dedupe([where[i][0] for i, _ in fuse(*lists[q])])[:10], sf.qrels[q], 10) for q in lists)}
    return score


def squad(data: Path, home: Path, settings_for):
    from eval.datasets.squad import load_squad2

    sq = load_squad2(data / "squad2" / "squad2_dev.json", limit=None, articles=8)
    sq.write_corpus(home / "squad")
    items = {it.id: it for it in sq.items if it.answerable}
    lists, where = candidates(settings_for(home), home / "squad", "squad", {q: it.question for q, it in items.items()})

    def score(fuse):
        firsts = []
        for q, it in items.items():
            top = [where[i][0] in it.gold_sources for i, _ in fuse(*lists[q])[:10]]
            firsts.append(next((r for r, hit in enumerate(top, 1) if hit), None))
        n = len(firsts)
        return {"R@1": sum(f == 1 for f in firsts) / n, "R@5": sum(f is not None and f <= 5 for f in firsts) / n,
                "MRR@10": sum(1 / f for f in firsts if f) / n}
    return score


def financebench(data: Path, home: Path, settings_for):
    from eval.datasets.financebench import load_financebench

    fb = load_financebench(data / "financebench")
    fb.write_corpus(home / "financebench")
    items = {it.id: it for it in fb.items}
    lists, where = candidates(settings_for(home), home / "financebench", "fb", {q: it.question for q, it in items.items()})

    def score(fuse):
        out = {"page@5": 0, "page@10": 0, "filing@5": 0}
        for q, it in items.items():
            top = [where[i] for i, _ in fuse(*lists[q])[:10]]
            on_page = [s in it.gold_sources and p in it.gold_pages for s, p in top]
            out["page@5"] += any(on_page[:5])
            out["page@10"] += any(on_page)
            out["filing@5"] += any(s in it.gold_sources for s, _ in top[:5])
        return out
    return score


CORPORA = {"scifact": scifact, "squad": squad, "financebench": financebench}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--models-home", type=Path, default=None)
    ap.add_argument("--corpora", default="scifact,squad,financebench")
    ap.add_argument("--weights", default="0.4,0.5,0.6,0.7,0.8", help="dense weights of the weighted fusion")
    args = ap.parse_args(argv)
    models_home = args.models_home or default_models_home()
    weights = [float(w) for w in args.weights.split(",")]
    print(machine_line(machine()), flush=True)
    table: dict[str, dict[str, float]] = {name: {} for name in fusions(weights)}
    with tempfile.TemporaryDirectory() as tmp:
        for corpus in args.corpora.split(","):
            home = Path(tmp) / corpus
            score = CORPORA[corpus](args.data, home, lambda h: make_settings(h / "home", models_home))
            for name, fuse in fusions(weights).items():
                table[name].update({f"{corpus} {k}": v for k, v in score(fuse).items()})
            print(f"{corpus}: done", file=sys.stderr, flush=True)
    columns = list(next(iter(table.values())))
    print("\n| fusion | " + " | ".join(columns) + " |")
    print("|---|" + "---|" * len(columns))
    for name, row in table.items():
        cells = [f"{row[c]:.4f}" if isinstance(row[c], float) else str(row[c]) for c in columns]
        print(f"| {name} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
