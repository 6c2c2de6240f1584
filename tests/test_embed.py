"""The real all-MiniLM-L6-v2 encoder."""

from __future__ import annotations

import numpy as np


def test_vectors_are_unit_length_and_meaningful(embedder):
    v = embedder.embed_batch(["The cat sat on the mat.", "A cat was sitting on a rug.", "Quarterly revenue rose 8%."])
    assert v.shape == (3, 384) and v.dtype == np.float32
    assert np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    assert v[0] @ v[1] > v[0] @ v[2] + 0.2
    assert np.allclose(embedder.embed_query("The cat sat on the mat."), v[0], atol=1e-5)
    assert embedder.embed_batch([]).shape == (0, 384)


def test_token_counts_are_neither_padded_nor_truncated(embedder):
    assert embedder.count_tokens("e") == 1
    assert embedder.count_tokens("hello world") == 2
    assert embedder.count_tokens("word " * 1000) == 1000
