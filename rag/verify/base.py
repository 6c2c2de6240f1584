"""The ``Verifier`` seam: how well is a claim supported by its evidence?

One essential method, :meth:`Verifier.score`, maps (claim, evidence) pairs to
support probabilities in [0, 1]. :class:`VerifierBase` builds
:meth:`~Verifier.annotate` on it: score each sentence of an answer against the
passages it cites, mark it, and apply the unsupported-sentence policy
(:mod:`rag.verify.annotate`).

Example:
    >>> v = LexicalVerifier()                                               # doctest: +SKIP
    >>> v.score([("Revenue rose 5% in 2023.", "In 2023 revenue grew by 5%.")])  # doctest: +SKIP
    [0.93]
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Literal, Protocol, runtime_checkable

from rag.errors import ConfigError
from rag.schemas import AskResponse

Policy = Literal["flag", "remove"]
POLICIES: tuple[str, ...] = ("flag", "remove")

#: A (claim, evidence) pair: the text to check and the text it should rest on.
Pair = tuple[str, str]


@runtime_checkable
class Verifier(Protocol):
    """Scores how well claims are supported by evidence."""

    #: Short name for logs and reports ("lexical", "judge:qwen...", ...).
    name: str
    #: Support scores at or above this count as supported.
    threshold: float

    def score(self, pairs: Sequence[Pair]) -> list[float]:
        """P(supported) in [0, 1] for each (claim, evidence) pair, in order (the essential method)."""
        ...

    def annotate(self, response: AskResponse) -> AskResponse:
        """A copy of ``response`` with per-sentence support, groundedness and the policy applied."""
        ...


class VerifierBase(ABC):
    """Implements :meth:`Verifier.annotate` on :meth:`score`.

    Args:
        threshold: support scores at or above it count as supported.
        policy: ``"flag"`` keeps unsupported sentences and marks them;
            ``"remove"`` drops them from the answer (and abstains when none is left).
    """

    name: str = "verifier"

    def __init__(self, *, threshold: float = 0.5, policy: Policy = "flag") -> None:
        if policy not in POLICIES:
            raise ConfigError(f"unknown unsupported_policy {policy!r}; choose one of: {', '.join(POLICIES)}")
        if not 0.0 <= threshold <= 1.0:
            raise ConfigError(f"support_threshold must be within [0, 1], got {threshold}")
        self.threshold = float(threshold)
        self.policy: Policy = policy

    @abstractmethod
    def score(self, pairs: Sequence[Pair]) -> list[float]:
        """P(supported) in [0, 1] for each (claim, evidence) pair."""

    def annotate(self, response: AskResponse) -> AskResponse:
        """Score each answer sentence against its cited passages (all passages when it cites none).

        See :func:`rag.verify.annotate.annotate_response` for the rules.
        """
        from .annotate import annotate_response

        return annotate_response(response, self.score, threshold=self.threshold, policy=self.policy)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(threshold={self.threshold:.3f}, policy={self.policy!r})"
