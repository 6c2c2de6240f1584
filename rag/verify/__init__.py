"""Answer verification: how well is each sentence of an answer supported by its passages?

Verifiers (all behind the :class:`Verifier` protocol):

- ``lexical``: numbers, names and content words must appear in the evidence; no model;
- ``judge``: the configured generator answers "is the claim fully supported?" (P(yes));
- ``nli``: a cross-encoder NLI / hallucination model named by the user (none ships offline);
- ``combined`` (default): logistic regression over the lexical features, plus the
  judge's P(yes) when ``verifier_judge`` is on; weights fitted on licensed data.

Importing this package is cheap: nothing heavy loads until a verifier scores.

Example:
    >>> verifier = make_verifier(settings)                    # doctest: +SKIP
    >>> verifier.annotate(response).groundedness              # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

from rag.errors import ConfigError

from .base import POLICIES, Pair, Policy, Verifier, VerifierBase

__all__ = ["KINDS", "POLICIES", "Pair", "Policy", "Verifier", "VerifierBase", "make_verifier"]

KINDS = ("lexical", "judge", "nli", "combined", "none")
#: The kind used when ``verifier`` is not set (chosen by measurement: docs/verification.md).
DEFAULT_KIND = "combined"


def _setting(settings: Any, name: str, default: Any) -> Any:
    value = getattr(settings, name, default)
    return default if value is None else value


def make_verifier(settings: Any, generator: Any = None) -> Verifier | None:
    """Build the configured verifier; nothing loads until it scores.

    Settings read (all optional until rag.config declares them): ``verifier``
    (``lexical``/``judge``/``nli``/``combined``/``none``), ``verifier_model`` (the NLI
    cross-encoder), ``verifier_judge`` (combined: add the judge's P(yes)),
    ``support_threshold`` (None = the calibrated one), ``unsupported_policy``
    (``flag``/``remove``).

    Args:
        settings: the product settings.
        generator: the generator to judge with (``judge``, or ``combined`` with
            ``verifier_judge``); built from the settings when None and needed.

    Returns:
        The verifier, or None for ``verifier=none``.

    Raises:
        ConfigError: unknown kind or policy, or ``nli`` without ``verifier_model``.
    """
    kind = str(_setting(settings, "verifier", DEFAULT_KIND)).lower()
    policy = str(_setting(settings, "unsupported_policy", "flag")).lower()
    threshold = getattr(settings, "support_threshold", None)
    if policy not in POLICIES:
        raise ConfigError(f"unknown unsupported_policy {policy!r}; choose one of: {', '.join(POLICIES)}")

    def judge(**kwargs):
        from rag.generate import make_generator

        from .judge import JudgeVerifier

        return JudgeVerifier(generator if generator is not None else make_generator(settings), **kwargs)

    if kind == "none":
        return None
    if kind == "lexical":
        from .lexical import LexicalVerifier

        return LexicalVerifier(threshold=threshold, policy=policy)
    if kind == "judge":
        return judge(threshold=threshold, policy=policy)
    if kind == "nli":
        model = str(_setting(settings, "verifier_model", ""))
        if not model:
            raise ConfigError("verifier=nli needs verifier_model (a cross-encoder id or folder)")
        from .nli import NLIVerifier

        return NLIVerifier(model, threshold=threshold, policy=policy)
    if kind == "combined":
        from .combined import CombinedVerifier

        return CombinedVerifier(judge() if _setting(settings, "verifier_judge", False) else None,
                                threshold=threshold, policy=policy)
    raise ConfigError(f"unknown verifier {kind!r}; choose one of: {', '.join(KINDS)}")
