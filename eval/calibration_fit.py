"""Fit the combined verifier's logistic regression (scikit-learn, eval-time only).

Each dataset weighs the same in the fit and, within it, each class does, so a
large or lopsided set does not decide the weights alone.
"""

from __future__ import annotations

from collections.abc import Sequence


def fit_logistic(rows: Sequence[Sequence[float]], labels: Sequence[bool], groups: Sequence[str],
                 features: Sequence[str], *, c: float = 1.0, seed: int = 13):
    """A :class:`rag.verify.combined.LogisticModel` fitted on standardised ``rows``.

    Args:
        rows: feature vectors; labels: True = supported; groups: the dataset of each row.
        c: inverse L2 strength.
    """
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    from rag.verify.combined import LogisticModel

    x = np.asarray(rows, dtype=float)
    y = np.asarray(labels, dtype=int)
    mean, scale = x.mean(axis=0), x.std(axis=0)
    scale[scale == 0] = 1.0
    weight = np.ones(len(y))
    for g in set(groups):
        for cls in (0, 1):
            idx = [i for i, (gg, yy) in enumerate(zip(groups, y)) if gg == g and yy == cls]
            if idx:
                weight[idx] = 1.0 / (2 * len(idx))
    weight *= len(y) / weight.sum()
    clf = LogisticRegression(C=c, max_iter=1000, random_state=seed)
    clf.fit((x - mean) / scale, y, sample_weight=weight)
    return LogisticModel(list(features), [round(float(w), 6) for w in clf.coef_[0]], round(float(clf.intercept_[0]), 6),
                         [round(float(m), 6) for m in mean], [round(float(s), 6) for s in scale])
