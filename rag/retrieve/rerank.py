"""Cross-encoder reranking (sentence-transformers ``CrossEncoder``), named by the user.

No reranker ships offline; users with a model hub (or a local copy) set
``RAG_RERANK_MODEL``, e.g. ``cross-encoder/ms-marco-MiniLM-L-6-v2``.
"""

from __future__ import annotations

import threading
from typing import Sequence

from rag.errors import ModelUnavailableError, require
from rag.schemas import ChunkHit


class CrossEncoderReranker:
    """Scores (query, passage) pairs with a cross-encoder, loaded on first use."""

    def __init__(self, model: str, device: str = "cpu") -> None:
        self.name = model
        self._device = device
        self._model = None
        self._lock = threading.Lock()

    def _load(self):
        with self._lock:
            if self._model is None:
                st = require("sentence_transformers", "engine")
                try:
                    self._model = st.CrossEncoder(self.name, device=self._device)
                except OSError as exc:
                    raise ModelUnavailableError(f"cannot load reranker '{self.name}': {exc}") from exc
        return self._model

    def rerank(self, query: str, hits: Sequence[ChunkHit], k: int) -> list[ChunkHit]:
        if not hits:
            return []
        scores = self._load().predict([(query, h.text) for h in hits], show_progress_bar=False)
        for hit, score in zip(hits, scores):
            hit.rerank_score = float(score)
            hit.score = float(score)
        return sorted(hits, key=lambda h: h.rerank_score, reverse=True)[:k]
