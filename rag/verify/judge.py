"""The decoder LLM as a yes/no judge: P(yes) of "Is the claim fully supported?"."""

from __future__ import annotations

from collections.abc import Sequence

from .base import Pair, Policy, VerifierBase

SYSTEM = "You check whether a claim is supported by a text. Use only the text, not your own knowledge."
USER = (
    "Evidence:\n{evidence}\n\nClaim: {claim}\n\n"
    "Is the claim fully supported by the evidence? Answer yes or no."
)
#: Tokens kept free for the claim, the instructions and the answer when the evidence is cut.
_RESERVE = 160


class JudgeVerifier(VerifierBase):
    """Asks the configured generator whether each claim is supported; one call per pair.

    The score is P(yes | yes or no) from the first generated token's log-probabilities
    (:meth:`rag.generate.Generator.yes_no_logprob`). Evidence longer than the model's
    window is cut at the end. Cost: one prompt evaluation per pair (seconds on a CPU).
    Only an instruction-following model judges usefully (Qwen2.5 1.5B here; SmolLM2-135M
    answers at random).

    Args:
        generator: a :class:`rag.generate.Generator`.
        threshold, policy: as for every verifier.
    """

    def __init__(self, generator, *, threshold: float | None = None, policy: Policy = "flag") -> None:
        if threshold is None:
            from .calibration import calibrated_threshold

            threshold = calibrated_threshold("judge", 0.5)
        super().__init__(threshold=threshold, policy=policy)
        self.generator = generator
        self.name = f"judge:{getattr(generator, 'name', 'llm')}"

    def messages(self, claim: str, evidence: str) -> list[dict[str, str]]:
        """The chat messages of one judgement, evidence cut to fit the window."""
        budget = self.generator.context_window - _RESERVE - self.generator.count_tokens(claim)
        if self.generator.count_tokens(evidence) > budget:
            ratio = max(budget, 0) / max(self.generator.count_tokens(evidence), 1)
            evidence = evidence[: int(len(evidence) * ratio * 0.95)]
        return [{"role": "system", "content": SYSTEM},
                {"role": "user", "content": USER.format(evidence=evidence.strip(), claim=claim.strip())}]

    def score(self, pairs: Sequence[Pair]) -> list[float]:
        return [float(self.generator.yes_no_logprob(self.messages(c, e))) for c, e in pairs]
