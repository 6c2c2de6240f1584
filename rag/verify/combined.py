"""Logistic regression over the lexical features (and, optionally, the judge's P(yes)).

The weights come from :mod:`rag.verify.calibration` (fitted by ``python -m
eval.calibration --write`` on licensed data); applying them is a dot product, so
this verifier needs no scikit-learn and, without the judge, no model.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from rag.errors import ConfigError

from .base import Pair, Policy, VerifierBase
from .features import FEATURES, feature_vector

#: The judge's feature: log-odds of its P(yes), clipped so a certain judge cannot swamp the rest.
JUDGE_FEATURE = "judge_logit"


def judge_logit(p: float) -> float:
    """log(p / (1 - p)) clipped to [-6, 6]."""
    p = min(max(p, 0.0025), 0.9975)
    return math.log(p / (1 - p))


class LogisticModel:
    """``sigmoid(bias + sum(w * (x - mean) / scale))`` over named features."""

    def __init__(self, features: Sequence[str], weights: Sequence[float], bias: float,
                 mean: Sequence[float], scale: Sequence[float]) -> None:
        if not len(features) == len(weights) == len(mean) == len(scale):
            raise ConfigError("calibration weights do not match their feature list")
        self.features, self.weights, self.bias = list(features), list(weights), float(bias)
        self.mean, self.scale = list(mean), [s or 1.0 for s in scale]

    @classmethod
    def from_dict(cls, d: dict) -> "LogisticModel":
        return cls(d["features"], d["weights"], d["bias"], d["mean"], d["scale"])

    def to_dict(self) -> dict:
        return {"features": self.features, "weights": self.weights, "bias": self.bias,
                "mean": self.mean, "scale": self.scale}

    def predict(self, x: Sequence[float]) -> float:
        z = self.bias + sum(w * (v - m) / s for w, v, m, s in zip(self.weights, x, self.mean, self.scale))
        return 1.0 / (1.0 + math.exp(-max(min(z, 40.0), -40.0)))


class CombinedVerifier(VerifierBase):
    """Lexical features, plus the judge's P(yes) when a judge is given, through fitted weights.

    Args:
        judge: a :class:`~rag.verify.judge.JudgeVerifier`, or None for the lexical-only model.
        model: weights to use instead of the committed ones.
        threshold, policy: as for every verifier (the threshold defaults to the calibrated one).

    Raises:
        ConfigError: the calibration file holds no weights for the variant asked for.
    """

    def __init__(self, judge=None, *, model: LogisticModel | None = None, threshold: float | None = None,
                 policy: Policy = "flag") -> None:
        from .calibration import calibrated_threshold, load_calibration

        key = "combined_judge" if judge is not None else "combined"
        if model is None:
            entry = load_calibration().get("verifiers", {}).get(key, {})
            if "model" not in entry:
                raise ConfigError(f"no fitted weights for the {key!r} verifier; "
                                  "run `python -m eval.calibration --write`")
            model = LogisticModel.from_dict(entry["model"])
        expected = list(FEATURES) + ([JUDGE_FEATURE] if judge is not None else [])
        if model.features != expected:
            raise ConfigError(f"the {key!r} weights are for features {model.features}, expected {expected}")
        super().__init__(threshold=calibrated_threshold(key, 0.5) if threshold is None else threshold, policy=policy)
        self.judge, self.model = judge, model
        self.name = key if judge is None else f"combined+{judge.name}"

    def score(self, pairs: Sequence[Pair]) -> list[float]:
        rows = [feature_vector(c, e) for c, e in pairs]
        if self.judge is not None:
            rows = [r + [judge_logit(p)] for r, p in zip(rows, self.judge.score(pairs))]
        return [self.model.predict(r) for r in rows]
