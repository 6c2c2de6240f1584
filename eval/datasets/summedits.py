"""SummEdits (Apache-2.0): a document and an (edited) summary labelled consistent or not."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from eval.datasets.pairs import LabeledPair


def load_summedits(path: Path) -> list[LabeledPair]:
    """Pairs (summary → document) from a SummEdits JSON file; label 1 = consistent = supported.

    Edits of one document share a group, so a document never sits in both halves of a split.
    """
    rows = json.loads(Path(path).read_text(encoding="utf-8"))
    pairs = []
    for row in rows:
        group = hashlib.sha1(row["doc"].encode()).hexdigest()[:12]
        pairs.append(LabeledPair(str(row["id"]), group, row["summary"].strip(), row["doc"].strip(), bool(row["label"])))
    return pairs
