"""Retrieval metrics against graded or binary relevance judgements."""

from __future__ import annotations

import math
from typing import Mapping, Sequence


def dedupe(ranked: Sequence[str]) -> list[str]:
    """Keep the first occurrence of each id (several chunks of one document → one entry)."""
    seen, out = set(), []
    for item in ranked:
        if item not in seen:
            seen.add(item)
            out.append(item)
    return out


def recall_at_k(ranked: Sequence[str], relevant: Mapping[str, float], k: int) -> float:
    """Share of the relevant ids found in the top ``k``."""
    if not relevant:
        return 0.0
    top = set(ranked[:k])
    return sum(1 for r in relevant if r in top) / len(relevant)


def mrr(ranked: Sequence[str], relevant: Mapping[str, float], k: int | None = None) -> float:
    """Reciprocal rank of the first relevant id (0 when none in the top ``k``)."""
    for i, item in enumerate(ranked[:k] if k else ranked, start=1):
        if relevant.get(item, 0) > 0:
            return 1.0 / i
    return 0.0


def ndcg_at_k(ranked: Sequence[str], relevant: Mapping[str, float], k: int = 10) -> float:
    """nDCG@k with gains equal to the relevance grades (the BEIR / trec_eval definition).

    Example:
        >>> round(ndcg_at_k(["a", "b"], {"b": 1}), 3)
        0.631
    """
    dcg = sum(relevant.get(item, 0.0) / math.log2(i + 1) for i, item in enumerate(ranked[:k], start=1))
    ideal = sorted(relevant.values(), reverse=True)[:k]
    idcg = sum(g / math.log2(i + 1) for i, g in enumerate(ideal, start=1))
    return dcg / idcg if idcg > 0 else 0.0
