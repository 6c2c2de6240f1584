"""Choose the answerability threshold from evaluation runs made with it turned off.

A run with ``answerable_threshold = 0`` (see ``eval/specs/answerability-squad2.toml``)
records, for every question, the model's ``answerable_score`` and what it generated.
Any higher threshold can then be replayed without asking again: the service abstains
when the score is at or below the threshold or when the model itself replied NOT FOUND.
This program prints that trade-off and the threshold that maximises SQuAD 2.0's
overall F1 (answerable questions by token F1, unanswerable ones 1 when abstained)
while keeping false abstentions within a bound (default 0.15: a service that refuses
answerable questions is not one people keep using). Because the threshold is chosen on
the same questions it is measured on, the figures to report are the 2-fold
cross-validated ones: the threshold chosen on one half, measured on the other::

    python -m eval.answerability .eval-runs/answerability [more run folders]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
from pathlib import Path

from rag.answer.answerability import answerable_score


def load_rows(folders: list[Path]) -> list[dict]:
    """The rows of ``results.jsonl`` in each folder that carry an answerable score."""
    rows = []
    for folder in folders:
        path = folder / "results.jsonl"
        if not path.exists():
            raise SystemExit(f"no results.jsonl in {folder}")
        for line in path.read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            if row.get("first_tokens"):  # score again: the definition may be newer than the run
                row["answerable_score"] = answerable_score(row["first_tokens"])
            if row.get("answerable_score") is not None and not row.get("error"):
                rows.append(row)
    return rows


def replay(rows: list[dict], threshold: float) -> dict:
    """The abstention and F1 figures had the service used ``threshold``."""
    ans = [r for r in rows if r["answerable"]]
    una = [r for r in rows if not r["answerable"]]

    def abstains(r: dict) -> bool:
        return (threshold > 0 and r["answerable_score"] <= threshold) or r["abstained"]

    f1 = [0.0 if abstains(r) else r.get("f1", 0.0) for r in ans]
    contains = [0.0 if abstains(r) else r.get("contains", 0.0) for r in ans]
    rejected = [1.0 if abstains(r) else 0.0 for r in una]
    return {
        "threshold": threshold,
        "abstention_recall": statistics.fmean(rejected) if una else None,
        "false_abstention_rate": statistics.fmean([1.0 if abstains(r) else 0.0 for r in ans]) if ans else None,
        "answer_f1": statistics.fmean(f1) if ans else None,
        "answer_contains": statistics.fmean(contains) if ans else None,
        "overall_f1": statistics.fmean(f1 + rejected) if rows else None,
    }


def best_threshold(rows: list[dict], grid: list[float], max_false_abstention: float = 1.0) -> dict:
    """The replayed figures at the threshold with the highest overall F1 among those whose
    false-abstention rate stays within the bound (the lowest threshold on ties)."""
    table = [replay(rows, t) for t in grid]
    within = [m for m in table if (m["false_abstention_rate"] or 0.0) <= max_false_abstention] or table[:1]
    return max(within, key=lambda m: (m["overall_f1"], -m["threshold"]))


def cross_validated(rows: list[dict], grid: list[float], max_false_abstention: float = 1.0, seed: int = 0) -> dict:
    """2-fold cross-validation: choose on one half, replay on the other, pool the held-out rows."""
    shuffled = rows[:]
    random.Random(seed).shuffle(shuffled)
    halves = [shuffled[0::2], shuffled[1::2]]
    thresholds, held = [], []
    for fit, test in ((halves[0], halves[1]), (halves[1], halves[0])):
        t = best_threshold(fit, grid, max_false_abstention)["threshold"]
        thresholds.append(t)
        held += [dict(r, answerable_score=r["answerable_score"] - t + 0.5) for r in test]  # each at its own threshold
    return {"thresholds": thresholds, "held_out": {"questions": len(held), **replay(held, 0.5)}}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("runs", nargs="+", type=Path, help="run folders made with answerable_threshold = 0")
    parser.add_argument("--max-false-abstention", type=float, default=0.15,
                        help="bound on the false-abstention rate of the chosen threshold (default 0.15)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    rows = load_rows(args.runs)
    if not rows:
        print("no rows with an answerable_score", file=sys.stderr)
        return 1
    grid = [round(i / 20, 2) for i in range(0, 21)]
    table = [replay(rows, t) for t in grid]
    best = best_threshold(rows, grid, args.max_false_abstention)
    cv = cross_validated(rows, grid, args.max_false_abstention)
    if args.json:
        print(json.dumps({"rows": len(rows), "table": table, "best": best, "cross_validated": cv}, indent=2))
        return 0
    print(f"{len(rows)} questions ({sum(r['answerable'] for r in rows)} answerable)")
    print("threshold  abst.recall  false.abst  answer.F1  contains  overall.F1")

    def f(x: float | None, width: int) -> str:
        return f"{x:{width}.3f}" if x is not None else " " * (width - 1) + "-"

    for m in table:
        print(f"{m['threshold']:9.2f}  {f(m['abstention_recall'], 11)}  {f(m['false_abstention_rate'], 10)}  "
              f"{f(m['answer_f1'], 9)}  {f(m['answer_contains'], 8)}  {f(m['overall_f1'], 10)}")
    print(f"best with false abstentions <= {args.max_false_abstention}: {best['threshold']:.2f} "
          f"(overall F1 {best['overall_f1']:.3f})")
    h = cv["held_out"]
    print(f"2-fold cross-validated (thresholds {cv['thresholds']}): abstention recall {f(h['abstention_recall'], 5)}, "
          f"false abstentions {f(h['false_abstention_rate'], 5)}, answer F1 {f(h['answer_f1'], 5)}, "
          f"overall F1 {f(h['overall_f1'], 5)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
