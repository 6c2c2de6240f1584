"""A fast verifier with no model: numbers, names and content words of the claim must
appear in the evidence (:mod:`rag.verify.features`)."""

from __future__ import annotations

from collections.abc import Sequence

from .base import Pair, Policy, VerifierBase
from .features import features


def lexical_score(claim: str, evidence: str) -> float:
    """A hand-set support score in [0, 1] from the lexical features.

    Mostly content-word recall, with names and word pairs next; a number of the
    claim absent from the evidence halves the score (a wrong figure is the
    commonest harmful error), as does a negation the evidence lacks (less so).
    """
    f = features(claim, evidence)
    s = 0.45 * f["content_recall"] + 0.2 * f["bigram_recall"] + 0.2 * f["entity_recall"] + 0.15 * f["number_recall"]
    if f["number_recall"] < 1.0:
        s *= 0.5
    if f["negation_mismatch"]:
        s *= 0.8
    return s


class LexicalVerifier(VerifierBase):
    """Scores support by lexical overlap; about ten thousand pairs a second, no model.

    It catches changed figures, invented names and new content; it cannot see a
    paraphrase that changes meaning with the same words (swapped roles, "before"
    for "after") and under-scores a faithful paraphrase with new words.

    Args:
        threshold: scores at or above count as supported (the calibrated default
            comes from :mod:`rag.verify.calibration`).
        policy: ``"flag"`` or ``"remove"``.
    """

    name = "lexical"

    def __init__(self, *, threshold: float | None = None, policy: Policy = "flag") -> None:
        if threshold is None:
            from .calibration import calibrated_threshold

            threshold = calibrated_threshold("lexical", 0.6)
        super().__init__(threshold=threshold, policy=policy)

    def score(self, pairs: Sequence[Pair]) -> list[float]:
        return [lexical_score(claim, evidence) for claim, evidence in pairs]
