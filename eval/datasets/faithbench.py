"""FaithBench (CC BY-NC-SA 4.0, evaluation only): summaries with human span labels.

Rule: a summary is *unsupported* when any annotator marked any span of it
"Unwanted" (intrinsic or extrinsic); "Questionable" and "Benign" spans alone leave
it supported. Never fit shipped weights on this set: its licence forbids it.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from eval.datasets.pairs import LabeledPair


def _unwanted(sample: dict) -> bool:
    return any(str(label).startswith("Unwanted") for a in sample.get("annotations", []) for label in a.get("label", []))


def load_faithbench(folder: Path) -> list[LabeledPair]:
    """Pairs (summary → source) from every ``batch_*.json`` in ``folder``, grouped by source."""
    pairs = []
    for path in sorted(Path(folder).glob("batch_*.json")):
        for s in json.loads(path.read_text(encoding="utf-8"))["samples"]:
            group = hashlib.sha1(s["source"].encode()).hexdigest()[:12]
            pairs.append(LabeledPair(f"{path.stem}-{s['sample_id']}", group, s["summary"].strip(),
                                     s["source"].strip(), not _unwanted(s)))
    return pairs
