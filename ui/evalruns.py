"""Read evaluation run folders (written by ``rag eval run``) for the Evaluation page.

A run folder holds ``metrics.json`` and ``results.jsonl``. The UI sits above the
engine and the eval pipeline, so it reads these files itself instead of importing
``eval`` (the small overlap with ``eval.compare`` is the price of the layering).
No Streamlit here: every function is unit-tested.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

#: Headline metrics, their labels, and whether higher is better.
HEADLINE = (
    ("answer_f1", "Answer F1", True),
    ("answer_em", "Exact match", True),
    ("retrieval_recall@k", "Retrieval recall@k", True),
    ("citation_precision", "Citation precision", True),
    ("hallucination_rate", "Unsupported share", False),
    ("abstention_f1", "Abstention F1", True),
    ("confident_answer_rate_unanswerable", "Answered unanswerable", False),
    ("seconds_per_question", "Seconds / question", False),
)
LOWER_IS_BETTER = {"hallucination_rate", "confident_answer_rate_unanswerable", "false_abstention_rate",
                   "seconds_per_question", "errors"}
#: Metrics that count questions rather than score them (not compared as deltas).
COUNTS = {"questions", "answerable", "unanswerable"}
#: Row filters offered on the page.
FILTERS = ("all", "wrong", "abstained", "unsupported")


@dataclass
class Run:
    """One run: its folder, metrics and per-question rows."""

    path: Path
    metrics: dict
    rows: list[dict] = field(default_factory=list)
    bad_lines: int = 0

    @property
    def name(self) -> str:
        return self.path.name


def find_runs(folder: Path) -> list[Path]:
    """Run folders in ``folder`` (or ``folder`` itself), newest first."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    runs = [p for p in folder.iterdir() if p.is_dir() and (p / "metrics.json").is_file()]
    if (folder / "metrics.json").is_file():
        runs.append(folder)
    return sorted(runs, key=lambda p: (p / "metrics.json").stat().st_mtime, reverse=True)


def load_run(path: Path) -> Run:
    """Read a run; unreadable result lines are counted, not fatal.

    Raises:
        ValueError: metrics.json is missing or not a JSON object.
    """
    path = Path(path)
    try:
        metrics = json.loads((path / "metrics.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ValueError(f"cannot read {path / 'metrics.json'}: {exc}") from None
    if not isinstance(metrics, dict):
        raise ValueError(f"{path / 'metrics.json'} is not a JSON object")
    rows, bad = [], 0
    results = path / "results.jsonl"
    if results.is_file():
        for line in results.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except ValueError:
                bad += 1
                continue
            if isinstance(row, dict):
                rows.append(row)
            else:
                bad += 1
    return Run(path, metrics, rows, bad)


def scalar_metrics(metrics: dict) -> dict[str, float]:
    """The numeric top-level metrics (no by_kind, spec, gate failures)."""
    return {k: float(v) for k, v in metrics.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}


def by_kind(metrics: dict, metric: str) -> dict[str, float]:
    """``metric`` per question kind, for kinds where it is defined."""
    kinds = metrics.get("by_kind") or {}
    return {kind: float(m[metric]) for kind, m in sorted(kinds.items())
            if isinstance(m, dict) and isinstance(m.get(metric), (int, float))}


def kind_metric_names(metrics: dict) -> list[str]:
    """Metrics available per kind, headline ones first."""
    names: set[str] = set()
    for m in (metrics.get("by_kind") or {}).values():
        if isinstance(m, dict):
            names |= {k for k, v in m.items() if isinstance(v, (int, float)) and k not in COUNTS}
    order = [k for k, _, _ in HEADLINE if k in names]
    return order + sorted(names - set(order))


def f1_histogram(rows: list[dict], bins: int = 10) -> dict[str, list]:
    """Counts of per-question F1 in ``bins`` equal bins over [0, 1] (chart-ready columns)."""
    counts = [0] * bins
    for r in rows:
        f1 = r.get("f1")
        if isinstance(f1, (int, float)):
            counts[min(bins - 1, max(0, int(f1 * bins)))] += 1
    labels = [f"{i / bins:.1f}–{(i + 1) / bins:.1f}" for i in range(bins)]
    return {"F1": labels, "questions": counts}


def is_wrong(row: dict, threshold: float = 0.5) -> bool:
    """Answered badly: an answerable question answered with F1 below ``threshold`` or
    wrongly abstained on, or an unanswerable question answered anyway."""
    if not row.get("answerable", True):
        return not row.get("abstained", False)
    if row.get("abstained"):
        return True
    f1 = row.get("f1")
    return isinstance(f1, (int, float)) and f1 < threshold


def filter_rows(rows: list[dict], which: str) -> list[dict]:
    """The rows matching a filter of :data:`FILTERS`."""
    if which == "wrong":
        return [r for r in rows if is_wrong(r)]
    if which == "abstained":
        return [r for r in rows if r.get("abstained")]
    if which == "unsupported":
        return [r for r in rows if (r.get("unsupported_share") or 0) > 0]
    return list(rows)


def table(rows: list[dict]) -> list[dict]:
    """Rows flattened for a table: one short value per column."""
    out = []
    for r in rows:
        answers = r.get("answers") or []
        out.append({
            "id": str(r.get("id", "")), "kind": r.get("kind", ""), "question": r.get("question", ""),
            "expected": " | ".join(map(str, answers)) if isinstance(answers, list) else str(answers),
            "prediction": r.get("prediction", ""), "answerable": r.get("answerable"),
            "abstained": r.get("abstained"), "f1": r.get("f1"), "em": r.get("em"),
            "unsupported": r.get("unsupported_share"), "seconds": r.get("seconds"),
            "reason": r.get("reason") or r.get("error") or "",
        })
    return out


def compare(a: Run, b: Run) -> list[dict]:
    """Top-level metric deltas B − A, with whether B is better, for metrics in both runs."""
    ma, mb = scalar_metrics(a.metrics), scalar_metrics(b.metrics)
    out = []
    for name in [k for k in ma if k in mb]:
        delta = mb[name] - ma[name]
        better = None if delta == 0 or name in COUNTS else (delta < 0) == (name in LOWER_IS_BETTER)
        out.append({"metric": name, "A": ma[name], "B": mb[name], "delta": round(delta, 4),
                    "verdict": "" if better is None else ("better" if better else "worse")})
    return out


def changed_questions(a: Run, b: Run, threshold: float = 0.5) -> dict[str, int]:
    """How many shared questions became right or wrong between A and B."""
    ra = {str(r.get("id")): r for r in a.rows}
    rb = {str(r.get("id")): r for r in b.rows}
    shared = set(ra) & set(rb)
    fixed = sum(1 for i in shared if is_wrong(ra[i], threshold) and not is_wrong(rb[i], threshold))
    broke = sum(1 for i in shared if not is_wrong(ra[i], threshold) and is_wrong(rb[i], threshold))
    return {"shared": len(shared), "fixed": fixed, "broken": broke}
