"""Read the model's answer: abstention, sentences, [n] markers → exact quoted spans."""

from __future__ import annotations

import re
from typing import Sequence

from rag.answer.prompt import NOT_FOUND
from rag.schemas import ChunkHit, Citation, SentenceSupport

MARKER = re.compile(r"\[(\d{1,3}(?:\s*[,;]\s*\d{1,3})*)\]")
_ABSTAIN = re.compile(
    r"^\W*not[\s_-]*found\b"
    r"|\b(?:passages?|documents?|context|sources?)\s+(?:do(?:es)?\s+not|don't|doesn't)\s+(?:contain|mention|provide|say|include|specify)"
    r"|\b(?:is|are)\s+not\s+(?:mentioned|stated|provided|given|specified)\s+in\s+the\s+(?:passages?|documents?|context)"
    r"|^\W*i\s+(?:do\s+not|don't)\s+know\b"
    r"|\bcannot\s+be\s+(?:answered|determined)\s+(?:from|with|based)",
    re.IGNORECASE,
)
_SENTENCE_END = re.compile(r"(?<=[.!?])((?:\s*\[\d{1,3}(?:\s*[,;]\s*\d{1,3})*\])*)\s+(?=[A-Z0-9\"'(])")
_WORD = re.compile(r"\w+")

#: Shown to the user when the documents do not hold the answer.
ABSTENTION_MESSAGE = "I could not find the answer in your documents."


#: An answer that ends in the abstention word ("The name is NOT FOUND", "...: [NOT FOUND]"):
#: what the model writes when it is steered past starting with it but still finds nothing.
_ENDS_NOT_FOUND = re.compile(rf"\[?\s*{NOT_FOUND}\s*\]?\W*$")


def is_abstention(answer: str) -> bool:
    """Did the model say the passages do not hold the answer? An answer that ends in
    ``NOT FOUND`` counts when it cites nothing ("404 NOT FOUND [2]" quotes a passage)."""
    text = answer.strip()
    return (not text or bool(_ABSTAIN.search(text)) or text.upper().startswith(NOT_FOUND)
            or (not MARKER.search(text) and bool(_ENDS_NOT_FOUND.search(text))))


def sentence_spans(answer: str) -> list[tuple[int, int]]:
    """``(start, end)`` of each sentence of an answer, the citation markers that follow its
    full stop included and the whitespace at its ends left out."""
    spans, last = [], 0
    for m in _SENTENCE_END.finditer(answer):
        spans.append((last, m.end(1)))
        last = m.end()
    spans.append((last, len(answer)))
    out = []
    for start, end in spans:
        piece = answer[start:end]
        if piece.strip():
            out.append((start + len(piece) - len(piece.lstrip()), start + len(piece.rstrip())))
    return out


def split_sentences(answer: str) -> list[str]:
    """Sentences of an answer, each keeping the citation markers that follow its full stop."""
    return [answer[s:e] for s, e in sentence_spans(answer)]


def markers_in(text: str) -> list[int]:
    """Marker numbers in ``text``, in order of appearance, without repeats."""
    seen: list[int] = []
    for m in MARKER.finditer(text):
        for n in re.split(r"\s*[,;]\s*", m.group(1)):
            if int(n) not in seen:
                seen.append(int(n))
    return seen


def drop_invalid_markers(answer: str, n_passages: int) -> str:
    """Remove markers that point at no passage (the model invented a number)."""

    def keep(m: re.Match) -> str:
        nums = [n for n in re.split(r"\s*[,;]\s*", m.group(1)) if 1 <= int(n) <= n_passages]
        return "[" + ", ".join(nums) + "]" if nums else ""

    return MARKER.sub(keep, answer)


#: Words too common to tell one sentence of a passage from another.
_COMMON = frozenset("the and for are was were has have had its that this with from which who what when "
                    "where how not but all any can may per than then there their they".split())


def best_quote(hit: ChunkHit, claim: str) -> tuple[int, int]:
    """Offsets (in the chunk's text) of the passage sentence that best matches ``claim``:
    the most of its words, a number counting twice (a figure pins a sentence down)."""
    words = {w.lower() for w in _WORD.findall(MARKER.sub("", claim)) if len(w) > 2 and w.lower() not in _COMMON}
    weight = {w: 2.0 if any(ch.isdigit() for ch in w) else 1.0 for w in words}
    text = hit.text
    best, best_score = (0, len(text)), 0.0
    for start, end in _sentence_spans(text):
        span_words = {w.lower() for w in _WORD.findall(text[start:end])}
        if not span_words:
            continue
        score = sum(weight[w] for w in words & span_words)
        if score > best_score:
            best, best_score = (start, end), score
    return best


def _sentence_spans(text: str) -> list[tuple[int, int]]:
    spans, start = [], 0
    # Sentence ends and blank lines; a single newline is usually a line wrap (PDF, Markdown).
    for m in re.finditer(r"(?<=[.!?])\s+|\n\s*\n", text):
        if m.start() > start:
            spans.append((start, m.start()))
        start = m.end()
    if start < len(text):
        spans.append((start, len(text)))
    return spans


def resolve_citations(answer: str, passages: Sequence[ChunkHit]) -> tuple[list[Citation], list[SentenceSupport]]:
    """Map each marker of the answer to its passage and the exact span it quotes."""
    citations: dict[int, Citation] = {}
    sentences: list[SentenceSupport] = []
    for sentence in split_sentences(answer):
        nums = [n for n in markers_in(sentence) if 1 <= n <= len(passages)]
        sentences.append(SentenceSupport(text=sentence, markers=nums))
        for n in nums:
            if n in citations:
                continue
            hit = passages[n - 1]
            s, e = best_quote(hit, sentence)
            citations[n] = Citation(
                marker=n, chunk_id=hit.chunk_id, doc_id=hit.doc_id, source=hit.source, title=hit.title,
                page=hit.page, start=hit.start + s, end=hit.start + e, quote=hit.text[s:e],
            )
    return sorted(citations.values(), key=lambda c: c.marker), sentences
