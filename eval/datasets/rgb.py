"""RGB (en_fact): noise robustness and negative rejection."""

from __future__ import annotations

import json
from pathlib import Path

from eval.datasets.base import EvalItem, EvalSet


def load_rgb(path: Path, *, negative_only: bool = True, limit: int | None = 20) -> EvalSet:
    """RGB questions with their web passages as the corpus.

    ``negative_only``: the corpus holds only the passages that do not answer, so the
    right output for every question is an abstention (negative rejection). Otherwise
    positive passages are added and the reference answer is expected.
    """
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()][:limit]
    items, files = [], {}
    for row in rows:
        qid = str(row["id"])
        for j, passage in enumerate(row.get("negative", [])):
            files[f"q{qid}-neg{j:02d}.txt"] = passage.encode("utf-8")
        gold = []
        if not negative_only:
            for j, passage in enumerate(row.get("positive", [])):
                files[f"q{qid}-pos{j:02d}.txt"] = passage.encode("utf-8")
                gold.append(f"q{qid}-pos{j:02d}")
        answers = row["answer"] if isinstance(row["answer"], list) else [row["answer"]]
        answers = [a if isinstance(a, str) else a[0] for a in answers]
        items.append(EvalItem(
            id=f"rgb-{qid}", question=row["query"],
            answers=[] if negative_only else answers, answerable=not negative_only,
            gold_sources=gold, kind="negative" if negative_only else "noisy",
        ))
    name = "rgb-negative" if negative_only else "rgb"
    return EvalSet(name=name, items=items, corpus_files=files, answer_metric="squad")
