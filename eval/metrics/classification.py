"""Binary-classification scores for support verifiers: labels are True = supported.

"Positive" for F1 is the *unsupported* class: the verifier's job is to catch
unsupported claims, so precision and recall are about those.
"""

from __future__ import annotations

from collections.abc import Sequence


def confusion(scores: Sequence[float], labels: Sequence[bool], threshold: float) -> tuple[int, int, int, int]:
    """(tp, fp, fn, tn) with the unsupported class as positive: predicted unsupported = score < threshold."""
    tp = fp = fn = tn = 0
    for s, supported in zip(scores, labels):
        flagged = s < threshold
        if not supported:
            tp, fn = (tp + 1, fn) if flagged else (tp, fn + 1)
        else:
            fp, tn = (fp + 1, tn) if flagged else (fp, tn + 1)
    return tp, fp, fn, tn


def balanced_accuracy(scores: Sequence[float], labels: Sequence[bool], threshold: float) -> float:
    """Mean of the recall on supported and on unsupported pairs (0.5 = chance)."""
    tp, fp, fn, tn = confusion(scores, labels, threshold)
    parts = [x / (x + y) for x, y in ((tp, fn), (tn, fp)) if x + y]
    return sum(parts) / len(parts) if parts else float("nan")


def f1_unsupported(scores: Sequence[float], labels: Sequence[bool], threshold: float) -> float:
    """F1 of flagging unsupported pairs (score < threshold)."""
    tp, fp, fn, _ = confusion(scores, labels, threshold)
    return 2 * tp / (2 * tp + fp + fn) if tp else 0.0


def auroc(scores: Sequence[float], labels: Sequence[bool]) -> float:
    """P(a supported pair scores above an unsupported one), ties counting half (Mann-Whitney U)."""
    pos = sorted(s for s, y in zip(scores, labels) if y)
    neg = sorted(s for s, y in zip(scores, labels) if not y)
    if not pos or not neg:
        return float("nan")
    ranked = sorted((s, i) for i, s in enumerate(list(pos) + list(neg)))
    ranks = [0.0] * len(ranked)
    i = 0
    while i < len(ranked):
        j = i
        while j + 1 < len(ranked) and ranked[j + 1][0] == ranked[i][0]:
            j += 1
        for k in range(i, j + 1):
            ranks[ranked[k][1]] = (i + j) / 2 + 1
        i = j + 1
    rank_sum = sum(ranks[: len(pos)])
    return (rank_sum - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg))


def best_threshold(scores: Sequence[float], labels: Sequence[bool]) -> float:
    """The threshold maximising balanced accuracy (middle of the best run of cut points)."""
    values = sorted(set(scores))
    cuts = [values[0] - 1e-9] + [(a + b) / 2 for a, b in zip(values, values[1:])] + [values[-1] + 1e-9]
    results = [(balanced_accuracy(scores, labels, t), t) for t in cuts]
    best = max(r[0] for r in results)
    tied = [t for ba, t in results if ba >= best - 1e-12]
    return tied[len(tied) // 2]


def report(scores: Sequence[float], labels: Sequence[bool], threshold: float) -> dict[str, float]:
    """Balanced accuracy, AUROC and F1 (unsupported class) at ``threshold``, plus counts."""
    return {
        "balanced_accuracy": round(balanced_accuracy(scores, labels, threshold), 4),
        "auroc": round(auroc(scores, labels), 4),
        "f1_unsupported": round(f1_unsupported(scores, labels, threshold), 4),
        "threshold": round(threshold, 4),
        "n": len(labels),
        "unsupported": sum(1 for y in labels if not y),
    }
