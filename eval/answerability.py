"""Choose the answerability threshold from evaluation runs made with it turned off.

A run with ``answerable_threshold = 0`` (see ``eval/specs/answerability-squad2.toml``)
records, for every question, the model's ``answerable_score`` and what it generated.
Any higher threshold can then be replayed without asking again: the service abstains
when the score is below the threshold or when the model itself replied NOT FOUND.
This program prints that trade-off and the threshold that maximises SQuAD 2.0's
overall F1 (answerable questions by token F1, unanswerable ones 1 when abstained)::

    python -m eval.answerability .eval-runs/answerability [more run folders]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path


def load_rows(folders: list[Path]) -> list[dict]:
    """The rows of ``results.jsonl`` in each folder that carry an answerable score."""
    rows = []
    for folder in folders:
        path = folder / "results.jsonl"
        if not path.exists():
            raise SystemExit(f"no results.jsonl in {folder}")
        for line in path.read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            if row.get("answerable_score") is not None and not row.get("error"):
                rows.append(row)
    return rows


def replay(rows: list[dict], threshold: float) -> dict:
    """The abstention and F1 figures had the service used ``threshold``."""
    ans = [r for r in rows if r["answerable"]]
    una = [r for r in rows if not r["answerable"]]

    def abstains(r: dict) -> bool:
        return r["answerable_score"] < threshold or r["abstained"]

    f1 = [0.0 if abstains(r) else r.get("f1", 0.0) for r in ans]
    rejected = [1.0 if abstains(r) else 0.0 for r in una]
    return {
        "threshold": threshold,
        "abstention_recall": statistics.fmean(rejected) if una else None,
        "false_abstention_rate": statistics.fmean([1.0 if abstains(r) else 0.0 for r in ans]) if ans else None,
        "answer_f1": statistics.fmean(f1) if ans else None,
        "overall_f1": statistics.fmean(f1 + rejected) if rows else None,
    }


def best_threshold(rows: list[dict], grid: list[float]) -> dict:
    """The replayed figures at the threshold with the highest overall F1 (the lowest on ties)."""
    return max((replay(rows, t) for t in grid), key=lambda m: (m["overall_f1"], -m["threshold"]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("runs", nargs="+", type=Path, help="run folders made with answerable_threshold = 0")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    rows = load_rows(args.runs)
    if not rows:
        print("no rows with an answerable_score", file=sys.stderr)
        return 1
    grid = [round(i / 20, 2) for i in range(0, 21)]
    table = [replay(rows, t) for t in grid]
    best = best_threshold(rows, grid)
    if args.json:
        print(json.dumps({"rows": len(rows), "table": table, "best": best}, indent=2))
        return 0
    print(f"{len(rows)} questions ({sum(r['answerable'] for r in rows)} answerable)")
    print("threshold  abst.recall  false.abst  answer.F1  overall.F1")
    for m in table:
        print(f"{m['threshold']:9.2f}  {m['abstention_recall']:11.3f}  {m['false_abstention_rate']:10.3f}  "
              f"{m['answer_f1']:9.3f}  {m['overall_f1']:10.3f}")
    print(f"best: {best['threshold']:.2f} (overall F1 {best['overall_f1']:.3f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
