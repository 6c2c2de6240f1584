"""How likely the model is to answer at all: read from its first token, before any text is written.

The answer prompt tells the model to reply only ``NOT FOUND`` when the passages do
not hold the answer. How likely its first token starts that reply, against its best
answer word, is the model's own belief that the question is unanswerable, and it costs
nothing extra: those logits exist the moment the prompt is evaluated. A threshold on
it, calibrated on dev data (docs/answerability.md), decides abstention before
generation starts (an abstention generates nothing), and every answer carries the
score so callers can choose their own operating point.
"""

from __future__ import annotations

import math

from rag.answer.prompt import NOT_FOUND


def answerable_score(top_logprobs: dict[str, float]) -> float:
    """The model's belief that it can answer: P(best answer token) / (that + P(NOT FOUND)).

    Measured against the absolute ``1 - P(NOT FOUND)``: when the model hesitates between
    several answer words, each is less likely than NOT FOUND although together they
    outweigh it; the greedy reply then abstains while ``1 - P(NOT FOUND)`` says answer.
    This pairwise score is 0.5 exactly where the greedy reply switches, so a threshold of
    0.5 reproduces the model's own choice and a calibrated one moves from there.

    Example:
        >>> round(answerable_score({"NOT": math.log(0.3), "Paris": math.log(0.6)}), 2)
        0.67
    """
    p_not = abstain_probability(top_logprobs)
    answers = [math.exp(lp) for t, lp in top_logprobs.items() if not starts_abstention(t)]
    p_best = max(answers, default=0.0)
    return 0.5 if p_not + p_best <= 0.0 else p_best / (p_not + p_best)


def starts_abstention(token: str) -> bool:
    """Whether a first token begins the abstention reply (a non-empty prefix of NOT FOUND)."""
    piece = token.strip()
    return bool(piece) and NOT_FOUND.startswith(piece)


def abstain_probability(top_logprobs: dict[str, float]) -> float:
    """P(the reply starts with NOT FOUND) from the first token's top log-probabilities.

    Counts every first-token spelling that is a non-empty prefix of ``NOT FOUND``
    (``"NOT"``, ``" NOT"``, ``"N"``...), case-sensitively: a reply starting "No," or
    "Not" is an answer, not the abstention word.

    Example:
        >>> round(abstain_probability({"NOT": math.log(0.7), "The": math.log(0.2)}), 2)
        0.7
    """
    return min(1.0, sum(math.exp(lp) for t, lp in top_logprobs.items() if starts_abstention(t)))
