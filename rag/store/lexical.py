"""The lexical (BM25) side of a collection, built with bm25s.

Like the FAISS index it is derived from the SQLite records: built from the chunk
texts, saved under a new folder name with the generation it reflects and published
by atomically replacing a pointer file. A stale or missing index is rebuilt from
the records on first use, so it always follows incremental updates.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from rag.errors import StoreError, require
from rag.store.durable import fsync_dir, fsync_file, write_atomic
from rag.store.lexical_terms import TermMatrix, TermStats

POINTER = "bm25.json"


def _tokenize(texts: list[str], *, ids: bool):
    bm25s = require("bm25s", "engine")
    return bm25s.tokenize(texts, stopwords="en", stemmer=_stemmer(), return_ids=ids, show_progress=False)


_STEMMER = None


def _stemmer():
    """English Snowball stemmer (PyStemmer), shared; None if it is not installed."""
    global _STEMMER
    if _STEMMER is None:
        try:
            import Stemmer

            _STEMMER = Stemmer.Stemmer("english").stemWords
        except ImportError:  # pragma: no cover - BM25 still works, without stemming
            _STEMMER = False
    return _STEMMER or None


def _matching(retriever, token_ids):
    """(chunk positions holding a query term, their BM25 scores) from bm25s's matrix."""
    import numpy as np

    if retriever.nonoccurrence_array is not None:  # BM25L / BM25+: every chunk scores
        scores = retriever.get_scores_from_ids(token_ids)
        return np.arange(len(scores)), scores
    matrix = retriever.scores
    indptr, indices, data = matrix["indptr"], matrix["indices"], matrix["data"]
    token_ids = token_ids[token_ids < len(indptr) - 1]
    postings = [slice(indptr[t], indptr[t + 1]) for t in token_ids]
    positions = np.concatenate([indices[p] for p in postings])
    docs, inverse = np.unique(positions, return_inverse=True)
    scores = np.bincount(inverse, weights=np.concatenate([data[p] for p in postings]), minlength=len(docs))
    return docs, scores.astype("float32")


class LexicalIndex:
    """A BM25 index over a collection's chunks: ``search`` returns (chunk id, score)."""

    def __init__(self, retriever, chunk_ids, generation: int, terms: TermMatrix | None = None) -> None:
        self._retriever = retriever
        self.chunk_ids = chunk_ids  # numpy int64, position → chunk id
        self.generation = generation
        self.terms = terms  # raw term counts, kept by shards (see rag.store.lexical_terms)
        self._position = {int(c): i for i, c in enumerate(chunk_ids)}

    @classmethod
    def build(cls, rows, generation: int, *, with_terms: bool = False) -> "LexicalIndex":
        """Index (chunk_id, text) rows; ``with_terms`` also keeps the term counts a shard needs."""
        import numpy as np

        bm25s = require("bm25s", "engine")
        rows = list(rows)
        ids = np.asarray([r[0] for r in rows], dtype="int64")
        retriever = bm25s.BM25()
        tokenized = _tokenize([r[1] for r in rows], ids=True) if rows else None
        if rows:
            retriever.index(tokenized, show_progress=False)
        terms = None
        if with_terms:
            terms = TermMatrix.build(tokenized.ids, tokenized.vocab) if rows else TermMatrix.build([], {})
        return cls(retriever if rows else None, ids, generation, terms)

    def search(self, query: str, k: int, allowed: set[int] | None = None) -> list[tuple[int, float]]:
        """Best ``k`` (chunk id, BM25 score) pairs with a positive score, best first.

        Scores are summed here from bm25s's precomputed score matrix, over the chunks
        that hold a query term only: bm25s's own ``retrieve`` starts a thread pool per
        call and scores every chunk (7.5 ms of 8 at 100k chunks went there).
        """
        import numpy as np

        n = len(self.chunk_ids)
        if self._retriever is None or n == 0 or k <= 0:
            return []
        token_ids = self._retriever.get_tokens_ids(_tokenize([query], ids=False)[0])
        if not token_ids:
            return []
        docs, scores = _matching(self._retriever, np.asarray(token_ids, dtype="int64"))
        if allowed is not None:
            keep = np.isin(self.chunk_ids[docs], np.fromiter(allowed, dtype="int64", count=len(allowed)))
            docs, scores = docs[keep], scores[keep]
        if len(docs) > k:
            top = np.argpartition(-scores, k - 1)[:k]
            docs, scores = docs[top], scores[top]
        order = np.argsort(-scores, kind="stable")
        return [(int(self.chunk_ids[d]), float(s)) for d, s in zip(docs[order], scores[order]) if s > 0]

    def _mask(self, allowed: set[int] | None):
        """bm25s's weight mask: 1 for the positions of ``allowed`` chunk ids, else 0 (None: all)."""
        import numpy as np

        if allowed is None:
            return None
        mask = np.zeros(len(self.chunk_ids), dtype="float32")
        for cid in allowed:
            pos = self._position.get(cid)
            if pos is not None:
                mask[pos] = 1.0
        return mask

    # ------------------------------------------------------------------ shards
    @staticmethod
    def query_terms(query: str) -> list[str]:
        """The query's tokens as the index sees them (stopwords out, stemmed), in order."""
        return _tokenize([query], ids=False)[0]

    def term_stats(self, query: str) -> TermStats:
        """This index's statistics for the query's terms (needs ``with_terms``)."""
        return self._terms().stats(self.query_terms(query))

    def search_with(self, query: str, stats: TermStats, k: int,
                    allowed: set[int] | None = None) -> list[tuple[int, float]]:
        """Like :meth:`search`, scored with collection-wide ``stats`` instead of this index's own."""
        import numpy as np

        if len(self.chunk_ids) == 0 or k <= 0:
            return []
        scores = self._terms().scores(self.query_terms(query), stats, self._mask(allowed))
        top = np.argsort(-scores, kind="stable")[:k]
        return [(int(self.chunk_ids[d]), float(scores[d])) for d in top if scores[d] > 0]

    def _terms(self) -> TermMatrix:
        if self.terms is None:
            raise StoreError("this lexical index keeps no term counts (it is not a shard's)")
        return self.terms

    # ------------------------------------------------------------------ persistence
    def save(self, folder: Path) -> None:
        """Write under a new name and publish atomically; older versions are removed."""
        import numpy as np

        folder.mkdir(parents=True, exist_ok=True)
        name = f"bm25-{self.generation:012d}"
        tmp = folder / (name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
        np.save(tmp / "chunk_ids.npy", self.chunk_ids)
        if self._retriever is not None:
            self._retriever.save(str(tmp), show_progress=False)
        if self.terms is not None:
            self.terms.save(tmp)
        for f in tmp.iterdir():
            fsync_file(f)
        fsync_dir(tmp)
        shutil.rmtree(folder / name, ignore_errors=True)
        os.replace(tmp, folder / name)
        fsync_dir(folder)  # the index folder's new name is durable before the pointer names it
        write_atomic(folder / POINTER, json.dumps({"generation": self.generation, "dir": name}))
        for old in folder.glob("bm25-*"):
            if old.name != name:
                shutil.rmtree(old, ignore_errors=True)

    @classmethod
    def load(cls, folder: Path) -> "LexicalIndex | None":
        """The published index, or None when there is none (or it cannot be read)."""
        import numpy as np

        bm25s = require("bm25s", "engine")
        try:
            meta = json.loads((folder / POINTER).read_text())
            path = folder / meta["dir"]
            ids = np.load(path / "chunk_ids.npy")
            retriever = bm25s.BM25.load(str(path), show_progress=False) if len(ids) else None
            terms = TermMatrix.load(path)
        except (FileNotFoundError, ValueError, KeyError, OSError):
            return None
        return cls(retriever, ids, int(meta["generation"]), terms)

    @staticmethod
    def published_generation(folder: Path) -> int | None:
        try:
            return int(json.loads((folder / POINTER).read_text())["generation"])
        except (FileNotFoundError, ValueError, KeyError):
            return None
