"""A user's own evaluation set in JSONL.

One question per line::

    {"id": "q1", "question": "How many vacation days?", "answers": ["25 days"],
     "answerable": true, "gold_sources": ["handbook"], "gold_pages": [12], "kind": "policy"}

Only ``question`` is required; ``id`` defaults to the line number, ``answerable`` to
whether ``answers`` is non-empty. ``gold_sources`` are file names without suffix. The
corpus is a folder of documents named in the spec (``corpus = "path/to/docs"``).
"""

from __future__ import annotations

import json
from pathlib import Path

from eval.datasets.base import EvalItem, EvalSet
from rag.errors import InvalidInputError


def load_jsonl(path: Path, corpus: Path, *, limit: int | None = None, answer_metric: str = "squad") -> EvalSet:
    """Read a JSONL question file; ``corpus`` is the folder to ingest."""
    items = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            answers = [str(a) for a in row.get("answers", [])]
            items.append(EvalItem(
                id=str(row.get("id", n)), question=str(row["question"]), answers=answers,
                answerable=bool(row.get("answerable", bool(answers))),
                gold_sources=[str(s) for s in row.get("gold_sources", [])],
                gold_pages=[int(p) for p in row.get("gold_pages", [])], kind=str(row.get("kind", "default")),
            ))
        except (ValueError, KeyError, TypeError) as exc:
            raise InvalidInputError(f"{path}:{n}: not a valid question line ({exc})") from None
    if not corpus.is_dir():
        raise InvalidInputError(f"corpus folder not found: {corpus}")
    return EvalSet(name=path.stem, items=items[:limit], corpus_dir=corpus, answer_metric=answer_metric)
