"""The passages shown to the model: adjacent hits joined, near-duplicates dropped.

Retrieval ranks chunks one by one, so the top hits often hold two neighbouring chunks of
one document (a heading and the table under it) as separate passages, each cut in the
middle, and sometimes the same text twice (a README and the doc page it was copied from).
A small model reads one coherent passage better than two fragments, and every duplicate
takes the place of another passage. Joining is exact: chunks keep their character offsets
in their page's text, so overlapping or touching chunks of one page are one span of it.

Before joining, :func:`cut_off` can drop the hits far behind the best (``RAG_PASSAGE_CUTOFF``,
off by default): on long documents with flat scores it lets an answer read more pages
without also reading distractors where one passage clearly answers.
"""

from __future__ import annotations

import re
from typing import Sequence

from rag.schemas import ChunkHit

#: Two passages whose word 3-grams overlap this much (Jaccard) say the same thing.
NEAR_DUPLICATE = 0.8
#: Chunks are stripped of the whitespace at their ends, so neighbours may be this far apart.
_GAP = 4
_WORD = re.compile(r"\w+")


def cut_off(hits: Sequence[ChunkHit], *, share: float, keep: int) -> list[ChunkHit]:
    """The first ``keep`` hits, then those scoring at least ``share`` of the best one's.

    Meant for the weighted hybrid fusion's scores, where each side is divided by its best
    so the scores of one search are comparable. ``share`` 0 keeps every hit.

    Example:
        >>> hits = [ChunkHit(chunk_id=i, doc_id=i, source="s", title="t", start=0, end=1, text="x", score=s)
        ...         for i, s in enumerate([1.0, 0.9, 0.5, 0.45])]
        >>> [h.score for h in cut_off(hits, share=0.8, keep=1)]
        [1.0, 0.9]
    """
    if not hits or share <= 0:
        return list(hits)
    floor = share * hits[0].score
    return [h for i, h in enumerate(hits) if i < keep or h.score >= floor]


def assemble(hits: Sequence[ChunkHit]) -> list[ChunkHit]:
    """Join hits that overlap or touch in one page of one document, and drop near-duplicates.

    A joined passage takes the rank of its best member and the union of the spans, in
    document order; its ``chunk_id`` and scores are the best member's.

    Example:
        >>> a = ChunkHit(chunk_id=1, doc_id=1, source="s", title="t", start=0, end=5, text="Hello", score=.9)
        >>> b = ChunkHit(chunk_id=2, doc_id=1, source="s", title="t", start=5, end=12, text=" world.", score=.5)
        >>> [h.text for h in assemble([a, b])]
        ['Hello world.']
    """
    groups: list[list[ChunkHit]] = []
    for hit in hits:
        group = next((g for g in groups if any(_adjacent(hit, other) for other in g)), None)
        if group is None:
            groups.append([hit])
        else:
            group.append(hit)
    groups = _close(groups)
    joined = [_join(g) for g in groups]
    return _dedupe(joined)


def _adjacent(a: ChunkHit, b: ChunkHit) -> bool:
    return a.doc_id == b.doc_id and a.page == b.page and a.start <= b.end + _GAP and b.start <= a.end + _GAP


def _close(groups: list[list[ChunkHit]]) -> list[list[ChunkHit]]:
    """Merge groups that became adjacent through a later member (a chain a-b-c found as a, c, b)."""
    merged = True
    while merged:
        merged = False
        for i in range(len(groups)):
            for j in range(i + 1, len(groups)):
                if any(_adjacent(a, b) for a in groups[i] for b in groups[j]):
                    groups[i].extend(groups.pop(j))
                    merged = True
                    break
            if merged:
                break
    return groups


def _join(group: list[ChunkHit]) -> ChunkHit:
    best = group[0]  # hits arrive best first
    if len(group) == 1:
        return best
    ordered = sorted(group, key=lambda h: (h.start, h.end))
    text, end = ordered[0].text, ordered[0].end
    for hit in ordered[1:]:
        if hit.end <= end:
            continue  # inside what we have
        if hit.start > end:  # stripped whitespace between them: keep the offsets exact
            text += "\n" * (hit.start - end)
        text += hit.text[max(0, end - hit.start):]
        end = hit.end
    return best.model_copy(update={"start": ordered[0].start, "end": end, "text": text})


def _shingles(text: str) -> set[tuple[str, ...]]:
    words = [w.lower() for w in _WORD.findall(text)]
    return {tuple(words[i:i + 3]) for i in range(max(1, len(words) - 2))}


def _dedupe(hits: list[ChunkHit]) -> list[ChunkHit]:
    kept: list[ChunkHit] = []
    seen: list[set] = []
    for hit in hits:
        grams = _shingles(hit.text)
        if any(len(grams & s) / (len(grams | s) or 1) >= NEAR_DUPLICATE for s in seen):
            continue
        kept.append(hit)
        seen.append(grams)
    return kept
