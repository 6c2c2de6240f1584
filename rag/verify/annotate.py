"""Mark each sentence of an answer as supported or not, and apply the policy.

Rules:

- the evidence of a sentence is the text of the passages it cites (``[n]`` →
  ``response.passages[n-1]``), or of every passage when it cites none;
- fragments with no words (a stray ``[2]``) are not scored;
- ``groundedness`` is the *length-weighted share of supported sentences*: the
  characters (markers excluded) of supported sentences over those of all scored
  sentences. A long unsupported sentence weighs more than a short one; a single
  threshold decides, so the figure reads as "how much of the answer is backed".
  It is computed on the answer the model wrote, before any removal;
- policy ``flag`` keeps the answer as written; ``remove`` rebuilds it from the
  supported sentences (and word-less fragments that follow a kept sentence),
  keeps only the citations still referred to, and turns the response into an
  abstention when no sentence with words survives. ``sentences`` always lists
  every sentence the model wrote, with its verdict.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from rag.answer.citations import ABSTENTION_MESSAGE, MARKER, markers_in
from rag.schemas import AskResponse, SentenceSupport

#: The reason given when the ``remove`` policy leaves nothing of the answer.
NOTHING_SUPPORTED = "no sentence of the answer is supported by the passages"

_WORDY = re.compile(r"\w")


def claim_text(sentence: str) -> str:
    """The sentence without its citation markers."""
    return re.sub(r"\s+([.,;:!?])", r"\1", MARKER.sub("", sentence)).strip()


def annotate_response(
    response: AskResponse,
    score: Callable[[Sequence[tuple[str, str]]], list[float]],
    *,
    threshold: float,
    policy: str = "flag",
) -> AskResponse:
    """A copy of ``response`` with ``support``/``supported`` per sentence, ``groundedness``
    and the policy applied. Abstentions and answers without sentences come back unchanged."""
    if not response.answerable or not response.sentences:
        return response
    passages = response.passages
    everything = "\n\n".join(p.text for p in passages)
    todo: list[int] = []
    pairs: list[tuple[str, str]] = []
    for i, s in enumerate(response.sentences):
        claim = claim_text(s.text)
        if not _WORDY.search(claim):
            continue
        cited = [passages[m - 1].text for m in s.markers if 1 <= m <= len(passages)]
        todo.append(i)
        pairs.append((claim, "\n\n".join(cited) if cited else everything))
    scores = score(pairs) if pairs else []

    sentences = [s.model_copy() for s in response.sentences]
    for i, p in zip(todo, scores):
        p = min(1.0, max(0.0, float(p)))
        sentences[i] = sentences[i].model_copy(update={"support": p, "supported": p >= threshold})
    weights = [len(claim_text(sentences[i].text)) for i in todo]
    total = sum(weights)
    backed = sum(w for i, w in zip(todo, weights) if sentences[i].supported)
    groundedness = backed / total if total else None
    update: dict = {"sentences": sentences, "groundedness": groundedness}
    if policy == "remove":
        update.update(_remove_unsupported(response, sentences))
    return response.model_copy(update=update)


def _remove_unsupported(response: AskResponse, sentences: list[SentenceSupport]) -> dict:
    kept: list[str] = []
    keep_fragments = False
    for s in sentences:
        if s.supported is None:  # a word-less fragment: goes with the sentence before it
            if keep_fragments:
                kept.append(s.text)
            continue
        keep_fragments = bool(s.supported)
        if s.supported:
            kept.append(s.text)
    if not any(_WORDY.search(claim_text(t)) for t in kept):
        return {"answer": ABSTENTION_MESSAGE, "answerable": False, "reason": NOTHING_SUPPORTED, "citations": []}
    answer = " ".join(kept)
    used = set(markers_in(answer))
    return {"answer": answer, "citations": [c for c in response.citations if c.marker in used]}
