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
        answers = _alternatives(row["answer"])
        items.append(EvalItem(
            id=f"rgb-{qid}", question=row["query"],
            answers=[] if negative_only else answers, answerable=not negative_only,
            gold_sources=gold, kind="negative" if negative_only else "noisy",
        ))
    name = "rgb-negative" if negative_only else "rgb"
    return EvalSet(name=name, items=items, corpus_files=files, answer_metric="squad")


def _alternatives(answer) -> list[str]:
    """The accepted spellings of an RGB answer: a string, or lists of them (RGB's dates come
    as ``[["July 21 2017", "Jul 21, 2017", "21 July 2017", ...]]``, any one of which is right).

    Example:
        >>> _alternatives([["May 15 2012", "15 May 2012"]])
        ['May 15 2012', '15 May 2012']
        >>> _alternatives("Norway")
        ['Norway']
    """
    if isinstance(answer, str):
        return [answer]
    out: list[str] = []
    for a in answer:
        for spelling in _alternatives(a):
            if spelling not in out:
                out.append(spelling)
    return out
