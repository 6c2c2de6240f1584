"""Chunk size and overlap against retrieval quality, to choose the defaults.

SQuAD 2.0 dev: each article's paragraphs are joined with blank lines into one document;
all articles are chunked with :class:`ingest.chunking.Chunker` (the ingestion chunker,
sizes in the encoder's own tokens), embedded with the configured encoder and searched
exactly (FAISS flat, inner product on normalised vectors, as a small collection is).
For every answerable question:

  span  a retrieved chunk holds a gold answer span (by character offsets: the right place)
  text  a retrieved chunk contains a gold answer text (lenient: the words appear anywhere)

recall@1, recall@5 and MRR@10 are reported for each, with the chunk count, the mean chunk
length in tokens (how much text the answer step gets per chunk) and the embedding time.

With ``--scifact``, the SciFact abstracts (title + abstract) are chunked the same way and the
claims retrieve chunks, mapped to their abstracts (best chunk per abstract): recall@10 and
nDCG@10 of the gold abstracts. It costs far more encoder time (2,500 abstracts per setting);
``--scifact-docs N`` keeps N abstracts: gold ones first, then distractors (an easier task
than the full corpus; compare settings with each other, not with published figures).

Run:
    RAG_HOME=.rag-home python benchmarks/chunking.py
    python benchmarks/chunking.py --sizes 128,254 --overlaps 0,32 --scifact --scifact-docs 800 --json

all-MiniLM-L6-v2 reads at most 256 word pieces including 2 special tokens, so 254 is the
largest chunk it sees whole. This program prints figures; it never fails on a score.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
import time
from pathlib import Path

_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(_HERE.parent))
from benchmarks._common import (DEFAULT_DATA, default_models_home, load_embedder, machine,  # noqa: E402
                                machine_line, make_settings, note)

SEP = "\n\n"
K_MRR = 10


# ---------------------------------------------------------------- data
def load_squad(path: Path, quick: bool):
    """Documents (one per article) and answerable questions with their answer spans."""
    data = json.loads(path.read_text(encoding="utf-8"))["data"]
    if quick:
        data = data[:2]
    docs, questions = [], []
    for d, article in enumerate(data):
        parts, offset = [], 0
        for para in article["paragraphs"]:
            ctx = para["context"]
            for qa in para["qas"]:
                if qa.get("is_impossible") or not qa["answers"]:
                    continue
                spans = [(offset + a["answer_start"], offset + a["answer_start"] + len(a["text"]))
                         for a in qa["answers"]]
                texts = sorted({a["text"] for a in qa["answers"]})
                questions.append({"q": qa["question"], "doc": d, "spans": spans, "texts": texts})
            parts.append(ctx)
            offset += len(ctx) + len(SEP)
        docs.append(SEP.join(parts))
    for q in questions:  # the offsets must point at the answers in the joined text
        s, e = q["spans"][0]
        assert docs[q["doc"]][s:e] in q["texts"], q
    return docs, questions


def load_scifact(folder: Path, max_docs: int | None):
    corpus = [json.loads(line) for line in (folder / "corpus.jsonl").open(encoding="utf-8")]
    qrels: dict[str, set[str]] = {}
    for i, line in enumerate((folder / "qrels.tsv").open(encoding="utf-8")):
        if i == 0:
            continue
        qid, did, score = line.rstrip("\n").split("\t")
        if int(score) > 0:
            qrels.setdefault(qid, set()).add(did)
    claims = {}
    for line in (folder / "claims.jsonl").open(encoding="utf-8"):
        row = json.loads(line)
        if str(row["id"]) in qrels:
            claims[str(row["id"])] = row["claim"]
    if max_docs:
        gold = set().union(*qrels.values())
        keep = [c for c in corpus if str(c["doc_id"]) in gold][:max_docs]
        for c in corpus:
            if len(keep) >= max_docs:
                break
            if str(c["doc_id"]) not in gold:
                keep.append(c)
        corpus = keep
    ids = [str(c["doc_id"]) for c in corpus]
    texts = [f"{c['title']}{SEP}{' '.join(c['abstract'])}" for c in corpus]
    have = set(ids)
    qrels = {q: g & have for q, g in qrels.items() if g & have and q in claims}
    return ids, texts, [(q, claims[q], qrels[q]) for q in sorted(qrels, key=int)]


# ---------------------------------------------------------------- measuring
def chunk_all(embedder, docs: list[str], size: int, overlap: int):
    from ingest.chunking import Chunker

    chunker = Chunker(embedder.count_tokens, size, overlap)
    t0 = time.perf_counter()
    chunks = [(d, s, e, t) for d, text in enumerate(docs) for s, e, t in chunker.split_text(text)]
    return chunks, time.perf_counter() - t0


def embed_and_search(embedder, texts: list[str], queries, k: int):
    import faiss

    t0 = time.perf_counter()
    vecs = embedder.embed_batch(texts)
    embed_s = time.perf_counter() - t0
    index = faiss.IndexFlatIP(vecs.shape[1])
    index.add(vecs)
    _, ids = index.search(queries, min(k, len(texts)))
    return ids, embed_s


def squad_config(embedder, docs, questions, qvecs, size, overlap) -> dict:
    chunks, chunk_s = chunk_all(embedder, docs, size, overlap)
    ids, embed_s = embed_and_search(embedder, [c[3] for c in chunks], qvecs, K_MRR)
    hits = {"span": [], "text": []}
    for q, row in zip(questions, ids):
        first = {"span": None, "text": None}
        for rank, cid in enumerate(row, 1):
            d, s, e, text = chunks[cid]
            if first["span"] is None and d == q["doc"] and any(s <= a and b <= e for a, b in q["spans"]):
                first["span"] = rank
            if first["text"] is None and any(t.lower() in text.lower() for t in q["texts"]):
                first["text"] = rank
        for kind in hits:
            hits[kind].append(first[kind])
    n = len(questions)
    out = {"chunk_tokens": size, "overlap": overlap, "chunks": len(chunks),
           "mean_tokens": sum(embedder.count_tokens(c[3]) for c in chunks) / len(chunks),
           "chunk_s": chunk_s, "embed_s": embed_s, "questions": n}
    for kind, ranks in hits.items():
        out[f"{kind}_r1"] = sum(1 for r in ranks if r == 1) / n
        out[f"{kind}_r5"] = sum(1 for r in ranks if r is not None and r <= 5) / n
        out[f"{kind}_mrr"] = sum(1.0 / r for r in ranks if r is not None) / n
    return out


def scifact_config(embedder, ids, texts, claims, cvecs, size, overlap) -> dict:
    chunks, chunk_s = chunk_all(embedder, texts, size, overlap)
    rows, embed_s = embed_and_search(embedder, [c[3] for c in chunks], cvecs, 100)
    recall, ndcg = [], []
    for (_, _, gold), row in zip(claims, rows):
        ranked: list[str] = []
        for cid in row:
            doc = ids[chunks[cid][0]]
            if doc not in ranked:
                ranked.append(doc)
            if len(ranked) == 10:
                break
        recall.append(len(gold & set(ranked)) / len(gold))
        dcg = sum(1.0 / math.log2(i + 2) for i, d in enumerate(ranked) if d in gold)
        ideal = sum(1.0 / math.log2(i + 2) for i in range(min(len(gold), 10)))
        ndcg.append(dcg / ideal)
    return {"chunk_tokens": size, "overlap": overlap, "chunks": len(chunks), "docs": len(ids),
            "claims": len(claims), "chunk_s": chunk_s, "embed_s": embed_s,
            "recall10": sum(recall) / len(recall), "ndcg10": sum(ndcg) / len(ndcg)}


# ---------------------------------------------------------------- output
def print_squad(rows, nq, ndocs) -> None:
    print(f"\n== SQuAD 2.0 dev: {ndocs} articles, {nq} answerable questions ==")
    head = (f"{'size':>5} {'overlap':>7} {'chunks':>6} {'tok/chunk':>9} {'embed s':>8} | "
            f"{'span R@1':>8} {'R@5':>6} {'MRR':>6} | {'text R@1':>8} {'R@5':>6} {'MRR':>6}")
    print(head)
    print("-" * len(head))
    for r in rows:
        print(f"{r['chunk_tokens']:>5} {r['overlap']:>7} {r['chunks']:>6} {r['mean_tokens']:>9.0f} {r['embed_s']:>8.1f} | "
              f"{r['span_r1']:>8.3f} {r['span_r5']:>6.3f} {r['span_mrr']:>6.3f} | "
              f"{r['text_r1']:>8.3f} {r['text_r5']:>6.3f} {r['text_mrr']:>6.3f}")
    print(f"span: a retrieved chunk holds a gold answer span; text: it contains a gold answer text. MRR@{K_MRR}.")


def print_scifact(rows) -> None:
    r0 = rows[0]
    print(f"\n== SciFact: {r0['docs']} abstracts, {r0['claims']} claims with gold abstracts ==")
    head = f"{'size':>5} {'overlap':>7} {'chunks':>6} {'embed s':>8} | {'recall@10':>9} {'nDCG@10':>8}"
    print(head)
    print("-" * len(head))
    for r in rows:
        print(f"{r['chunk_tokens']:>5} {r['overlap']:>7} {r['chunks']:>6} {r['embed_s']:>8.1f} | "
              f"{r['recall10']:>9.3f} {r['ndcg10']:>8.3f}")
    print("chunks map to their abstract (best chunk per abstract); the abstract ranking is scored.")


def ints(text: str) -> list[int]:
    return [int(x) for x in text.split(",") if x.strip()]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", type=ints, default=[64, 128, 200, 254], help="chunk_tokens values (default 64,128,200,254)")
    ap.add_argument("--overlaps", type=ints, default=[0, 32], help="overlap values (default 0,32)")
    ap.add_argument("--quick", action="store_true", help="2 SQuAD articles, sizes 128,254, overlap 0")
    ap.add_argument("--scifact", action="store_true", help="also SciFact claim → abstract retrieval (slow)")
    ap.add_argument("--scifact-docs", type=int, default=None, help="SciFact: gold abstracts plus distractors up to N")
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA, help=f"datasets folder (default {DEFAULT_DATA})")
    ap.add_argument("--models-home", type=Path, default=default_models_home())
    ap.add_argument("--json", action="store_true", help="print JSON instead of tables")
    args = ap.parse_args(argv)
    if args.quick:
        args.sizes, args.overlaps = [128, 254], [0]
    grid = [(s, o) for s in args.sizes for o in args.overlaps if o < s]

    with tempfile.TemporaryDirectory(prefix="rag-bench-") as home:
        settings = make_settings(Path(home), args.models_home)
        note(f"loading encoder {settings.embedding_model} ...")
        embedder = load_embedder(settings)
        report = {"machine": machine(), "encoder": embedder.name, "max_tokens": embedder.max_tokens,
                  "embed_batch_size": getattr(embedder, "batch_size", settings.embed_batch_size), "squad": [], "scifact": []}
        docs, questions = load_squad(args.data / "squad2" / "squad2_dev.json", args.quick)
        qvecs = embedder.embed_batch([q["q"] for q in questions])
        for size, overlap in grid:
            note(f"SQuAD: chunk_tokens {size}, overlap {overlap} ...")
            report["squad"].append(squad_config(embedder, docs, questions, qvecs, size, overlap))
        report["squad_docs"], report["squad_questions"] = len(docs), len(questions)
        if args.scifact:
            ids, texts, claims = load_scifact(args.data / "scifact", args.scifact_docs)
            cvecs = embedder.embed_batch([c[1] for c in claims])
            for size, overlap in grid:
                note(f"SciFact: chunk_tokens {size}, overlap {overlap} ...")
                report["scifact"].append(scifact_config(embedder, ids, texts, claims, cvecs, size, overlap))
        report["machine"]["loadavg_end"] = [round(x, 2) for x in __import__("os").getloadavg()]

    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print(machine_line(report["machine"]))
    print(f"encoder {report['encoder']} (reads {report['max_tokens']} word pieces incl. 2 specials), "
          f"embed_batch_size {report['embed_batch_size']}; exact search (FAISS flat)")
    print_squad(report["squad"], len(questions), len(docs))
    if report["scifact"]:
        print_scifact(report["scifact"])
    print("\nload average at the end: " + " ".join(f"{x:.2f}" for x in report["machine"]["loadavg_end"]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
