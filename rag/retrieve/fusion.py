"""How the dense and lexical candidate lists of a hybrid search become one ranking."""

from __future__ import annotations

from typing import Literal, Sequence

Scored = Sequence[tuple[int, float]]
Fusion = Literal["weighted", "rrf"]

#: The constant of Cormack et al. (2009); it damps the weight of the very top ranks.
RRF_K = 60
#: The dense side's share of a weighted fusion; the lexical side has the rest. Measured on
#: SciFact, SQuAD 2.0 and FinanceBench (docs/benchmarks.md, "Fusing dense and BM25").
DENSE_WEIGHT = 0.6


def reciprocal_rank_fusion(*rankings: Scored, k: int = RRF_K) -> list[tuple[int, float]]:
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


def weighted_fusion(dense: Scored, lexical: Scored, *, dense_weight: float = DENSE_WEIGHT,
                    dense_complete: bool = False, lexical_complete: bool = False) -> list[tuple[int, float]]:
    """Fuse by a weighted sum of scores, each side's divided by its best (so both run 0..1).

    Unlike reciprocal ranks, this keeps how far apart the candidates are: a chunk far
    ahead on one side stays ahead. A candidate missing from one list scores there as that
    list's last one (the most it could have had), or 0 when the list is ``complete``
    (it holds every chunk that scores at all, e.g. every chunk with a query term).

    Returns (id, fused score) pairs, best first; ties keep first-seen order (dense first).

    Example:
        >>> [i for i, _ in weighted_fusion([(1, .8), (2, .7)], [(2, 9.0), (3, 2.0)])]
        [2, 1, 3]
    """
    sides = []
    for scored, weight, complete in ((dense, dense_weight, dense_complete),
                                     (lexical, 1.0 - dense_weight, lexical_complete)):
        best = max((s for _, s in scored), default=0.0)
        norm = {item: (s / best if best > 0 else 0.0) for item, s in scored}
        floor = 0.0 if complete or not norm else min(norm.values())
        sides.append((norm, weight, floor))
    order = list(dict.fromkeys([item for item, _ in dense] + [item for item, _ in lexical]))
    fused = [(item, sum(w * norm.get(item, floor) for norm, w, floor in sides)) for item in order]
    return sorted(fused, key=lambda kv: kv[1], reverse=True)
