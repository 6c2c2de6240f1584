"""SciFact (BEIR-style): 2,500 abstracts, claims, and claim → evidence-document judgements."""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class SciFact:
    corpus: dict[str, tuple[str, str]]  # doc id → (title, text)
    queries: dict[str, str]  # claim id → claim text
    qrels: dict[str, dict[str, float]]  # claim id → {doc id: grade}


def load_scifact(folder: Path) -> SciFact:
    """Read ``corpus.jsonl``, ``claims.jsonl`` and ``qrels.tsv`` from ``folder``."""
    corpus = {}
    with (folder / "corpus.jsonl").open() as fh:
        for line in fh:
            rec = json.loads(line)
            corpus[str(rec["doc_id"])] = (rec["title"], " ".join(rec["abstract"]))
    queries = {}
    with (folder / "claims.jsonl").open() as fh:
        for line in fh:
            rec = json.loads(line)
            queries[str(rec["id"])] = rec["claim"]
    qrels: dict[str, dict[str, float]] = {}
    with (folder / "qrels.tsv").open() as fh:
        for row in csv.DictReader(fh, delimiter="\t"):
            qrels.setdefault(row["query-id"], {})[row["corpus-id"]] = float(row["score"])
    queries = {q: t for q, t in queries.items() if q in qrels}
    return SciFact(corpus, queries, qrels)


def write_corpus(data: SciFact, folder: Path) -> None:
    """One text file per abstract (title, blank line, text), named by its doc id."""
    folder.mkdir(parents=True, exist_ok=True)
    for doc_id, (title, text) in data.corpus.items():
        (folder / f"{doc_id}.txt").write_text(f"{title}\n\n{text}\n", encoding="utf-8")
