"""Aggregate per-question results into the run's metrics."""

from __future__ import annotations

import statistics
from typing import Sequence


def _mean(values: Sequence[float]) -> float | None:
    return round(statistics.fmean(values), 4) if values else None


def abstention_scores(rows: Sequence[dict]) -> dict:
    """Precision, recall and F1 of abstaining, the positive class being 'unanswerable'."""
    tp = sum(1 for r in rows if not r["answerable"] and r["abstained"])
    fp = sum(1 for r in rows if r["answerable"] and r["abstained"])
    fn = sum(1 for r in rows if not r["answerable"] and not r["abstained"])
    p = tp / (tp + fp) if tp + fp else None
    rec = tp / (tp + fn) if tp + fn else None
    f1 = 2 * p * rec / (p + rec) if p and rec else (0.0 if p is not None and rec is not None else None)
    unanswerable = [r for r in rows if not r["answerable"]]
    return {
        "abstention_precision": None if p is None else round(p, 4),
        "abstention_recall": None if rec is None else round(rec, 4),
        "abstention_f1": None if f1 is None else round(f1, 4),
        # The rate that matters most: confident answers to questions the documents cannot answer.
        "confident_answer_rate_unanswerable": _mean([0.0 if r["abstained"] else 1.0 for r in unanswerable]),
        "false_abstention_rate": _mean([1.0 if r["abstained"] else 0.0 for r in rows if r["answerable"]]),
    }


def summarize(rows: Sequence[dict]) -> dict:
    """Metrics of a run from its per-question rows (see :mod:`eval.runner`)."""
    answerable = [r for r in rows if r["answerable"]]
    metrics = {
        "questions": len(rows),
        "answerable": len(answerable),
        "unanswerable": len(rows) - len(answerable),
        "errors": sum(1 for r in rows if r.get("error")),
        "answer_em": _mean([r["em"] for r in answerable if r.get("em") is not None]),
        "answer_f1": _mean([r["f1"] for r in answerable if r.get("f1") is not None]),
        # SQuAD 2.0's own figure: answerable questions by F1, unanswerable ones 1 when abstained.
        "overall_f1": _mean([r.get("f1", 0.0) if r["answerable"] else float(r["abstained"]) for r in rows
                             if not r["answerable"] or r.get("f1") is not None]),
        "answer_contains": _mean([r["contains"] for r in answerable if r.get("contains") is not None]),
        "numeric_match": _mean([r["numeric"] for r in answerable if r.get("numeric") is not None]),
        "retrieval_recall@k": _mean([r["retrieval_recall"] for r in answerable if r.get("retrieval_recall") is not None]),
        "retrieval_mrr": _mean([r["retrieval_mrr"] for r in answerable if r.get("retrieval_mrr") is not None]),
        "citation_precision": _mean([r["citation_precision"] for r in rows if r.get("citation_precision") is not None]),
        "citation_recall": _mean([r["citation_recall"] for r in rows if r.get("citation_recall") is not None]),
        "citation_answer_hit": _mean([r["cited_answer"] for r in rows if r.get("cited_answer") is not None]),
        "citation_page_hit": _mean([r["page_hit"] for r in rows if r.get("page_hit") is not None]),
        "retrieval_page_hit": _mean([r["retrieval_page_hit"] for r in rows if r.get("retrieval_page_hit") is not None]),
        "hallucination_rate": _mean([r["unsupported_share"] for r in rows if r.get("unsupported_share") is not None]),
        "seconds_per_question": _mean([r["seconds"] for r in rows if r.get("seconds") is not None]),
    }
    metrics.update(abstention_scores(rows))
    return metrics
