"""BM25 over several shards with the statistics of the whole collection.

A BM25 score depends on corpus statistics: the number of chunks, their average
length and each term's document frequency. A shard scoring with its own statistics
ranks differently from one index over every chunk. So a shard also keeps its raw
term counts (:class:`TermMatrix`); a search first sums each shard's
:class:`TermStats` for the query's terms and then lets every shard score with the
sums. The arithmetic repeats bm25s's own (Lucene variant, k1 1.5, b 0.75, float32
per-term scores) and LexicalIndex.search's sum of them (float64, in query order), so a
shard's scores are bit for bit those of one index over all the chunks.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

#: bm25s's defaults, which :class:`rag.store.lexical.LexicalIndex` uses.
K1 = 1.5
B = 0.75


@dataclass
class TermStats:
    """Corpus statistics a BM25 score needs, for the terms of one query."""

    chunks: int = 0
    tokens: int = 0
    df: dict[str, int] = field(default_factory=dict)

    @classmethod
    def combine(cls, parts: list["TermStats"]) -> "TermStats":
        """The statistics of the union of the shards ``parts`` describe."""
        total = cls()
        for p in parts:
            total.chunks += p.chunks
            total.tokens += p.tokens
            for term, n in p.df.items():
                total.df[term] = total.df.get(term, 0) + n
        return total

    def to_dict(self) -> dict:
        return {"chunks": self.chunks, "tokens": self.tokens, "df": self.df}

    @classmethod
    def from_dict(cls, data: dict) -> "TermStats":
        return cls(int(data["chunks"]), int(data["tokens"]), {str(k): int(v) for k, v in data["df"].items()})


class TermMatrix:
    """Term counts of a shard's chunks: a term-major sparse matrix and chunk lengths."""

    FILES = ("tf_data.npy", "tf_indices.npy", "tf_indptr.npy", "lengths.npy", "vocab.json")

    def __init__(self, data, indices, indptr, lengths, vocab: dict[str, int]) -> None:
        self.data, self.indices, self.indptr = data, indices, indptr  # column t: rows indices[indptr[t]:indptr[t+1]]
        self.lengths = lengths
        self.vocab = vocab

    @classmethod
    def build(cls, token_ids: list[list[int]], vocab: dict[str, int]) -> "TermMatrix":
        """From bm25s's tokenization of the chunks (ids per chunk and the vocabulary)."""
        import numpy as np
        from collections import Counter

        rows, cols, counts = [], [], []
        for doc, ids in enumerate(token_ids):
            for term, n in Counter(ids).items():
                rows.append(doc)
                cols.append(term)
                counts.append(n)
        rows_a = np.asarray(rows, dtype="int32")
        cols_a = np.asarray(cols, dtype="int32")
        order = np.lexsort((rows_a, cols_a))
        indptr = np.zeros(len(vocab) + 1, dtype="int64")
        np.add.at(indptr, cols_a + 1, 1)
        return cls(np.asarray(counts, dtype="int32")[order], rows_a[order], np.cumsum(indptr),
                   np.asarray([len(ids) for ids in token_ids], dtype="int64"), dict(vocab))

    def stats(self, terms: list[str]) -> TermStats:
        """This shard's statistics for ``terms`` (the tokens of a query)."""
        df = {}
        for term in set(terms):
            col = self.vocab.get(term)
            if col is not None:
                df[term] = int(self.indptr[col + 1] - self.indptr[col])
        return TermStats(len(self.lengths), int(self.lengths.sum()), df)

    def scores(self, terms: list[str], stats: TermStats, mask=None):
        """Each chunk's BM25 score for the query ``terms`` under the collection-wide ``stats``."""
        import numpy as np

        # Per-term scores in float32 (as bm25s stores them), summed in float64 in query
        # order and rounded once, exactly as LexicalIndex.search sums bm25s's matrix.
        out = np.zeros(len(self.lengths), dtype="float64")
        if stats.chunks == 0:
            return out.astype("float32")
        # bm25s: avg length = numpy mean of int lengths (exact in float64); idf stored as float32.
        avg = np.float64(stats.tokens) / np.float64(stats.chunks)
        for term in terms:  # in query order, repeats included, as bm25s adds them
            col = self.vocab.get(term)
            df = stats.df.get(term, 0)
            if col is None or df == 0:
                continue
            start, end = self.indptr[col], self.indptr[col + 1]
            rows = self.indices[start:end]
            tf = self.data[start:end].astype("float32")
            idf = np.float32(math.log(1 + (stats.chunks - df + 0.5) / (df + 0.5)))
            tfc = tf / (K1 * ((1 - B) + B * self.lengths[rows] / avg) + tf)
            np.add.at(out, rows, (idf * tfc).astype("float32").astype("float64"))
        out = out.astype("float32")
        if mask is not None:
            out *= mask
        return out

    # ------------------------------------------------------------------ persistence
    def save(self, folder) -> None:
        import json

        import numpy as np

        np.save(folder / "tf_data.npy", self.data)
        np.save(folder / "tf_indices.npy", self.indices)
        np.save(folder / "tf_indptr.npy", self.indptr)
        np.save(folder / "lengths.npy", self.lengths)
        (folder / "vocab.json").write_text(json.dumps(self.vocab))

    @classmethod
    def load(cls, folder) -> "TermMatrix | None":
        import json

        import numpy as np

        if not (folder / "vocab.json").exists():
            return None
        return cls(np.load(folder / "tf_data.npy"), np.load(folder / "tf_indices.npy"),
                   np.load(folder / "tf_indptr.npy"), np.load(folder / "lengths.npy"),
                   json.loads((folder / "vocab.json").read_text()))
