"""SQuAD 2.0: answerable and unanswerable questions over Wikipedia paragraphs."""

from __future__ import annotations

import json
import random
from pathlib import Path

from eval.datasets.base import EvalItem, EvalSet


def load_squad2(path: Path, *, limit: int | None = 40, unanswerable_share: float = 0.5, seed: int = 13,
                articles: int | None = None) -> EvalSet:
    """A deterministic sample of SQuAD 2.0 questions; each paragraph becomes one text file.

    Only the articles the sampled questions come from are ingested (all their
    paragraphs, so retrieval still has to find the right one).
    """
    data = json.loads(path.read_text())["data"][:articles]
    answerable, unanswerable = [], []
    for a_i, article in enumerate(data):
        for p_i, para in enumerate(article["paragraphs"]):
            for qa in para["qas"]:
                item = (a_i, p_i, qa)
                (unanswerable if qa.get("is_impossible") else answerable).append(item)
    rng = random.Random(seed)
    rng.shuffle(answerable)
    rng.shuffle(unanswerable)
    if limit is None:
        chosen = answerable + unanswerable
    else:
        n_un = round(limit * unanswerable_share)
        chosen = unanswerable[:n_un] + answerable[: limit - n_un]
    chosen.sort(key=lambda t: t[2]["id"])
    items, used_articles = [], set()
    for a_i, p_i, qa in chosen:
        used_articles.add(a_i)
        impossible = bool(qa.get("is_impossible"))
        items.append(EvalItem(
            id=qa["id"], question=qa["question"],
            answers=[] if impossible else sorted({a["text"] for a in qa["answers"]}),
            answerable=not impossible,
            gold_sources=[] if impossible else [_name(data, a_i, p_i)],
            kind="unanswerable" if impossible else "answerable",
        ))
    files = {}
    for a_i in sorted(used_articles):
        for p_i, para in enumerate(data[a_i]["paragraphs"]):
            files[_name(data, a_i, p_i) + ".txt"] = para["context"].encode("utf-8")
    return EvalSet(name="squad2", items=items, corpus_files=files, answer_metric="squad")


def _name(data, a_i: int, p_i: int) -> str:
    return f"{data[a_i]['title']}-{p_i:03d}"
