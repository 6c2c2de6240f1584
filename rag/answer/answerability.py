"""How likely the model is to answer at all: read from its first token, before any text is written.

The answer prompt tells the model to reply only ``NOT FOUND`` when the passages do
not hold the answer. The probability that its first token starts that reply is the
model's own belief that the question is unanswerable, and it costs nothing extra:
those logits exist the moment the prompt is evaluated. A threshold on it, calibrated
on dev data (docs/answerability.md), decides abstention before generation starts,
which is both more accurate than the greedy first token (small models are
over-credulous) and faster (an abstention generates nothing).
"""

from __future__ import annotations

import math

from rag.answer.prompt import NOT_FOUND


def abstain_probability(top_logprobs: dict[str, float]) -> float:
    """P(the reply starts with NOT FOUND) from the first token's top log-probabilities.

    Counts every first-token spelling that is a non-empty prefix of ``NOT FOUND``
    (``"NOT"``, ``" NOT"``, ``"N"``...), case-sensitively: a reply starting "No," or
    "Not" is an answer, not the abstention word.

    Example:
        >>> round(abstain_probability({"NOT": math.log(0.7), "The": math.log(0.2)}), 2)
        0.7
    """
    p = 0.0
    for token, logprob in top_logprobs.items():
        piece = token.strip()
        if piece and NOT_FOUND.startswith(piece):
            p += math.exp(logprob)
    return min(1.0, p)
