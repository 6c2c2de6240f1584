"""The passages shown to the model: neighbouring chunks joined exactly, near-duplicates dropped."""

from __future__ import annotations

import re
from pathlib import Path

from ingest.chunking import Chunker
from rag.answer.citations import resolve_citations
from rag.answer.context import assemble, cut_off
from rag.schemas import ChunkHit

DOC = Path(__file__).resolve().parents[1] / "docs" / "ingestion.md"


def as_hit(chunk_id: int, start: int, end: int, text: str, *, doc_id: int = 1, page: int | None = None,
           score: float = 1.0) -> ChunkHit:
    return ChunkHit(chunk_id=chunk_id, doc_id=doc_id, source=f"/d/{doc_id}", title="Doc", page=page,
                    start=start, end=end, text=text, score=score)


def same_text(a: str, b: str) -> bool:
    """Equal but for the kind of whitespace (stripped gaps between chunks are refilled)."""
    return re.sub(r"\s", " ", a) == re.sub(r"\s", " ", b)


def chunks_of(embedder, text: str) -> list[ChunkHit]:
    pieces = Chunker(embedder.count_tokens, 64, 16).split_text(text)
    assert len(pieces) >= 6, "the document must give several chunks"
    return [as_hit(i, s, e, t) for i, (s, e, t) in enumerate(pieces)]


def test_neighbouring_chunks_join_into_the_exact_span_of_the_page(embedder):
    page = DOC.read_text()
    chunks = chunks_of(embedder, page)
    # Ranked out of document order, with a chain (0 and 2 only join through 1, which comes last),
    # and one chunk far away.
    ranked = [chunks[2], chunks[5], chunks[0], chunks[1]]
    joined = assemble(ranked)
    assert [h.chunk_id for h in joined] == [2, 5], "a joined passage takes its best member's place and id"
    first = joined[0]
    assert (first.start, first.end) == (chunks[0].start, chunks[2].end)
    assert len(first.text) == first.end - first.start
    assert same_text(first.text, page[first.start:first.end])
    assert joined[1] == chunks[5]


def test_a_citation_of_a_joined_passage_quotes_the_page_exactly(embedder):
    page = DOC.read_text()
    chunks = chunks_of(embedder, page)
    joined = assemble([chunks[1], chunks[0]])
    assert len(joined) == 1
    claim = next(s for s in re.split(r"(?<=\.)\s+", chunks[1].text) if len(s) > 40)
    citations, _ = resolve_citations(claim + " [1]", joined)
    (c,) = citations
    assert c.quote and same_text(page[c.start:c.end], c.quote)


def test_chunks_of_other_pages_or_documents_stay_apart():
    a = as_hit(1, 0, 10, "0123456789", page=1)
    b = as_hit(2, 10, 20, "abcdefghij", page=2)  # same offsets range, next page
    c = as_hit(3, 10, 20, "klmnopqrst", doc_id=2, page=1)  # another document
    assert assemble([a, b, c]) == [a, b, c]


def test_near_duplicates_are_dropped_and_distinct_passages_kept():
    text = ("Collections are stored under RAG_HOME, one folder each, with a SQLite file of records "
            "and a FAISS index derived from it.")
    copy = as_hit(2, 500, 500 + len(text) + 1, text + "!", doc_id=2, score=0.9)
    other = as_hit(3, 0, 40, "Uploads larger than the limit are refused.", doc_id=3, score=0.8)
    kept = assemble([as_hit(1, 0, len(text), text), copy, other])
    assert [h.chunk_id for h in kept] == [1, 3]


def test_cut_off_keeps_the_first_hits_and_those_near_the_best():
    hits = [as_hit(i, 0, 1, "x", doc_id=i, score=s) for i, s in enumerate([0.9, 0.5, 0.8, 0.75, 0.7])]
    # kept: the first 2 whatever their score, then 0.8 and 0.75 (>= 0.8 x 0.9 = 0.72); 0.7 is not.
    assert [h.chunk_id for h in cut_off(hits, share=0.8, keep=2)] == [0, 1, 2, 3]
    assert [h.chunk_id for h in cut_off(hits, share=0.8, keep=1)] == [0, 2, 3]
    assert cut_off(hits, share=0.0, keep=1) == hits, "share 0 keeps every hit"
    assert cut_off(hits, share=1.0, keep=10) == hits, "keep covers them all"
    assert cut_off([], share=0.8, keep=3) == []
