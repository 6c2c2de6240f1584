"""Compare two runs: metric deltas with paired bootstrap confidence intervals."""

from __future__ import annotations

import json
import random
import statistics
from pathlib import Path

#: Per-question scores compared, and whether higher is better.
PER_QUESTION = {"f1": True, "em": True, "abstained_correctly": True, "retrieval_recall": True, "cited_answer": True,
                "page_hit": True,
                "unsupported_share": False, "seconds": False}


def _rows(run: Path) -> dict[str, dict]:
    rows = {}
    for line in (run / "results.jsonl").read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        row["abstained_correctly"] = 1.0 if (not row["answerable"] and row["abstained"]) else (
            0.0 if not row["answerable"] else None)
        rows[row["id"]] = row
    return rows


def bootstrap_ci(deltas: list[float], *, samples: int = 2000, seed: int = 7, level: float = 0.95) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of paired deltas."""
    rng = random.Random(seed)
    n = len(deltas)
    means = sorted(statistics.fmean(rng.choices(deltas, k=n)) for _ in range(samples))
    lo = means[int((1 - level) / 2 * samples)]
    hi = means[min(samples - 1, int((1 + level) / 2 * samples))]
    return lo, hi


def compare(run_a: Path, run_b: Path) -> list[dict]:
    """For each metric: mean in A and B over shared questions, delta B−A, 95% CI, regression flag."""
    a, b = _rows(run_a), _rows(run_b)
    shared = sorted(set(a) & set(b))
    out = []
    for metric, higher_better in PER_QUESTION.items():
        pairs = [(a[i][metric], b[i][metric]) for i in shared
                 if a[i].get(metric) is not None and b[i].get(metric) is not None]
        if len(pairs) < 2:
            continue
        deltas = [y - x for x, y in pairs]
        lo, hi = bootstrap_ci(deltas)
        worse = hi < 0 if higher_better else lo > 0
        out.append({"metric": metric, "n": len(pairs), "a": statistics.fmean(x for x, _ in pairs),
                    "b": statistics.fmean(y for _, y in pairs), "delta": statistics.fmean(deltas),
                    "ci_low": lo, "ci_high": hi, "regression": worse})
    return out
