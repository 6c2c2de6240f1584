"""BM25 search sums bm25s's score matrix itself: the same ranking as bm25s's own retrieve."""

from __future__ import annotations

import json

import numpy as np
import pytest

from rag.store.lexical import LexicalIndex, _tokenize
from tests.conftest import dataset


@pytest.fixture(scope="module")
def abstracts():
    with dataset("scifact", "corpus.jsonl").open() as fh:
        return [(100 + i, " ".join(json.loads(line)["abstract"])) for i, line in zip(range(600), fh)]


def reference(index: LexicalIndex, query: str, k: int, allowed=None):
    """bm25s's own retrieve (with its weight mask for filters)."""
    mask = None
    if allowed is not None:
        mask = np.isin(index.chunk_ids, list(allowed)).astype("float32")
    docs, scores = index._retriever.retrieve(_tokenize([query], ids=False), k=k, show_progress=False,
                                             weight_mask=mask, n_threads=0)
    return [(int(index.chunk_ids[d]), float(s)) for d, s in zip(docs[0], scores[0]) if s > 0]


def same(got, want):
    assert [c for c, _ in got] == [c for c, _ in want] or sorted(got) == pytest.approx(sorted(want))
    assert [s for _, s in got] == pytest.approx([s for _, s in want], rel=1e-5)


@pytest.mark.parametrize("query", ["vitamin D deficiency in children", "T cell receptor signalling",
                                   "the of and", "zzzunknownword", "cancer cancer risk mortality"])
def test_search_matches_bm25s(abstracts, query):
    index = LexicalIndex.build(abstracts, 1)
    same(index.search(query, 10), reference(index, query, 10))
    allowed = {cid for cid, _ in abstracts[::3]}
    got = index.search(query, 10, allowed)
    assert all(c in allowed for c, _ in got)
    same(got, reference(index, query, 10, allowed))
    assert index.search(query, 10, set()) == []


def test_more_than_the_matches_returns_every_match(abstracts):
    index = LexicalIndex.build(abstracts, 1)
    got = index.search("cholesterol", 500)
    assert 0 < len(got) < 500 and got == sorted(got, key=lambda p: -p[1])
    same(got, reference(index, "cholesterol", 500))
