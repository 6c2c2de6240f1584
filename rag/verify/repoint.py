"""Citation markers moved to the passage that holds what their sentence says.

Small models often write a right sentence and number the wrong passage: "$13.2 billion [2]"
when passage 2 is the filing's cover page and the figure is in passage 1. The sentence is
then shown with a citation that does not prove it, and the verifier, which checks a sentence
against the passages it cites, calls it unsupported. The check is lexical and conservative:
a sentence's markers move only when the passages it cites miss its numbers or most of its
content words, and another passage holds all of its numbers and clearly more of its
words (the best such passage is cited instead). A sentence that cites nothing gets the
passage that holds it the same way, if one does. Everything else is kept as the model wrote it.

A question that names a number ("in 2018") must be answered from a passage that mentions it
(rag/answer/evidence.py). When the model cites a passage that holds its sentence but not the
question's year, and another passage holds both ("Norway [2]", where passage 3 says "Norway
collected 39 medals in 2018"), that passage is cited too (``cite_question_numbers``).
"""

from __future__ import annotations

from typing import Callable, Sequence

from rag.answer.citations import MARKER, markers_in, sentence_spans
from rag.answer.evidence import missing_numbers, unmentioned
from rag.schemas import ChunkHit
from rag.verify.annotate import claim_text
from rag.verify.features import content_stems, features, numbers

#: Share of a sentence's content words a passage must hold to be its evidence.
MIN_CONTENT = 0.5
#: How much more of the sentence's content words the new passage must hold than the cited ones.
MARGIN = 0.2


def _fit(claim: str, evidence: str) -> tuple[float, float]:
    f = features(claim, evidence)
    return f["number_recall"], f["content_recall"]


def _holds(fit: tuple[float, float]) -> bool:
    return fit[0] == 1.0 and fit[1] >= MIN_CONTENT


def _better(new: tuple[float, float], old: tuple[float, float]) -> bool:
    return new[0] > old[0] or new[1] >= old[1] + MARGIN


def repoint_markers(answer: str, passages: Sequence[ChunkHit]) -> str:
    """``answer`` with each sentence's markers moved to the passage that holds the sentence,
    where the cited passages do not, and a marker added where a sentence cites nothing but a
    passage holds it (see the module's rules); other sentences unchanged.

    Example:
        >>> from rag.schemas import ChunkHit
        >>> hit = lambda i, t: ChunkHit(chunk_id=i, doc_id=1, source="s", title="t", start=0, end=len(t), text=t, score=1)
        >>> cover = hit(1, "FORM 8-K. Johnson & Johnson, New Jersey.")
        >>> body = hit(2, "The company received cash proceeds of $13.2 billion from the offer.")
        >>> repoint_markers("Cash proceeds of $13.2 billion [1].", [cover, body])
        'Cash proceeds of $13.2 billion [2].'
    """
    def fix(sentence: str, cited: list[int], claim: str) -> str | None:
        if not cited:  # a sentence that cites nothing gets the passage that holds it
            found = _holder(claim, passages) if content_stems(claim) or numbers(claim) else None
            if found is None:
                return None
            stop = len(sentence.rstrip(".!?"))  # the marker goes before the full stop
            return sentence[:stop] + f" [{found}]" + sentence[stop:]
        now = _fit(claim, "\n\n".join(passages[n - 1].text for n in cited))
        if _holds(now):
            return None
        best = _holder(claim, passages, skip=cited, than=now)
        return None if best is None else _replace_markers(sentence, best)

    return _rewrite_sentences(answer, passages, fix)


def cite_question_numbers(answer: str, question: str, passages: Sequence[ChunkHit]) -> str:
    """``answer`` with a marker added to each sentence whose cited passages miss a number the
    question names, for the passage that holds both the sentence and every such number;
    other sentences unchanged. Nothing is added where no single passage holds both.

    Example:
        >>> from rag.schemas import ChunkHit
        >>> hit = lambda i, t: ChunkHit(chunk_id=i, doc_id=1, source="s", title="t", start=0, end=len(t), text=t, score=1)
        >>> record = hit(1, "Norway set the record for most total medals at a single Winter Olympics.")
        >>> haul = hit(2, "Norway collected 39 medals in 2018, the largest haul in a single Winter Olympics.")
        >>> cite_question_numbers("Norway [1]", "Who won the most medals in 2018?", [record, haul])
        'Norway [1] [2]'
    """
    def fix(sentence: str, cited: list[int], claim: str) -> str | None:
        missing = missing_numbers(question, [passages[n - 1].text for n in cited]) if cited else []
        best = _holder(claim, passages, skip=cited, mentioning=missing) if missing else None
        if best is None:
            return None
        stop = list(MARKER.finditer(sentence))[-1].end()  # beside the sentence's last marker
        return sentence[:stop] + f" [{best}]" + sentence[stop:]

    return _rewrite_sentences(answer, passages, fix)


def _rewrite_sentences(answer: str, passages: Sequence[ChunkHit],
                       fix: Callable[[str, list[int], str], str | None]) -> str:
    """``answer`` with each sentence that has a claim replaced by ``fix(sentence, cited, claim)``
    (``cited``: its valid marker numbers), or kept where ``fix`` returns None."""
    out, last = [], 0
    for start, end in sentence_spans(answer):
        sentence = answer[start:end]
        claim = claim_text(sentence)
        if not claim:
            continue
        new = fix(sentence, [n for n in markers_in(sentence) if 1 <= n <= len(passages)], claim)
        if new is not None:
            out.append(answer[last:start] + new)
            last = end
    out.append(answer[last:])
    return "".join(out)


def _holder(claim: str, passages: Sequence[ChunkHit], *, skip: Sequence[int] = (),
            than: tuple[float, float] | None = None, mentioning: Sequence[str] = ()) -> int | None:
    """The number of the passage that best holds ``claim`` (all its numbers, most of its words;
    on a tie the better-ranked one), leaving out ``skip``, any passage that does not mention
    every number in ``mentioning`` and, with ``than``, any passage not clearly better than that
    fit; or None."""
    fits = {n: _fit(claim, p.text) for n, p in enumerate(passages, 1)
            if n not in skip and not unmentioned(mentioning, [p.text])}
    holding = [n for n, fit in fits.items() if _holds(fit) and (than is None or _better(fit, than))]
    return max(holding, key=lambda n: (fits[n], -n)) if holding else None


def _replace_markers(sentence: str, number: int) -> str:
    """The sentence with its first marker turned into ``[number]`` and any others removed.

    Example:
        >>> _replace_markers("A [1] and B [2].", 3)
        'A [3] and B.'
    """
    out, last = [], 0
    for i, m in enumerate(MARKER.finditer(sentence)):
        before = sentence[last:m.start()]
        out.append(before + f"[{number}]" if i == 0 else before.rstrip(" "))
        last = m.end()
    out.append(sentence[last:])
    return "".join(out)
