"""Reciprocal rank fusion."""

from __future__ import annotations

from typing import Sequence

#: The constant of Cormack et al. (2009); it damps the weight of the very top ranks.
RRF_K = 60


def reciprocal_rank_fusion(*rankings: Sequence[tuple[int, float]], k: int = RRF_K) -> list[tuple[int, float]]:
    """Fuse rankings of (id, score) pairs: score(d) = sum over rankings of 1 / (k + rank).

    Returns (id, fused score) pairs, best first; ties keep first-seen order.

    Example:
        >>> reciprocal_rank_fusion([(1, .9), (2, .5)], [(2, 7.0), (3, 1.0)])[0][0]
        2
    """
    fused: dict[int, float] = {}
    for ranking in rankings:
        for rank, (item, _) in enumerate(ranking, start=1):
            fused[item] = fused.get(item, 0.0) + 1.0 / (k + rank)
    return sorted(fused.items(), key=lambda kv: kv[1], reverse=True)
