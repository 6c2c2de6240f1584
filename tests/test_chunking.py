"""Chunking in encoder tokens with offsets that give back the source text exactly."""

from __future__ import annotations

import json

import pytest

from ingest.chunking import Chunker
from ingest.loaders import load_document
from tests.conftest import dataset


@pytest.fixture(scope="module")
def chunker(embedder):
    return Chunker(embedder.count_tokens, 120, 20)


def squad_text() -> str:
    data = json.loads(dataset("squad2", "squad2_dev.json").read_text())
    return "\n\n".join(p["context"] for p in data["data"][1]["paragraphs"])


def test_offsets_round_trip_and_sizes(chunker, embedder):
    text = squad_text()
    pieces = chunker.split_text(text)
    assert len(pieces) > 10
    for start, end, piece in pieces:
        assert text[start:end] == piece
        assert embedder.count_tokens(piece) <= 120
    starts = [s for s, _, _ in pieces]
    assert starts == sorted(starts)
    # Together the chunks cover every word of the source.
    covered = set()
    for start, end, _ in pieces:
        covered.update(range(start, end))
    assert all(i in covered for i, ch in enumerate(text) if not ch.isspace())


def test_neighbours_overlap(chunker):
    pieces = chunker.split_text(squad_text())
    overlaps = sum(1 for (s1, e1, _), (s2, _, _) in zip(pieces, pieces[1:]) if s2 < e1)
    assert overlaps > 0


def test_pdf_chunks_keep_their_page(chunker):
    doc = load_document(dataset("financebench", "pdfs", "PEPSICO_2023_8K_dated-2023-05-05.pdf"))
    chunks = chunker.split(doc)
    pages = {p.number: p.text for p in doc.pages}
    assert {c.page for c in chunks} <= set(pages) and len({c.page for c in chunks}) > 1
    for c in chunks:
        assert pages[c.page][c.start:c.end] == c.text
    assert [c.ordinal for c in chunks] == list(range(len(chunks)))


def test_overlap_must_be_smaller_than_size(embedder):
    from rag.errors import ConfigError

    with pytest.raises(ConfigError):
        Chunker(embedder.count_tokens, 50, 50)
