"""HaluEval QA (MIT): knowledge, question, right answer, hallucinated answer.

Each row gives two pairs with the same evidence (the knowledge, then the question,
since an answer naturally restates its question): the right answer (supported) and
the hallucinated answer (unsupported). The answer text is the claim as given: the
right answers are often bare phrases ("Delhi"), the hallucinated ones sentences.
"""

from __future__ import annotations

import json
from pathlib import Path

from eval.datasets.pairs import LabeledPair


def load_halueval_qa(path: Path) -> list[LabeledPair]:
    """Pairs from a HaluEval ``qa_*.jsonl`` file (two per row, grouped by row)."""
    pairs: list[LabeledPair] = []
    with Path(path).open(encoding="utf-8") as fh:
        for i, line in enumerate(fh):
            if not line.strip():
                continue
            row = json.loads(line)
            evidence = f"{row['knowledge'].strip()}\nQuestion: {row['question'].strip()}"
            group = f"q{i}"
            pairs.append(LabeledPair(f"{group}-right", group, row["right_answer"].strip(), evidence, True))
            pairs.append(LabeledPair(f"{group}-halu", group, row["hallucinated_answer"].strip(), evidence, False))
    return pairs
