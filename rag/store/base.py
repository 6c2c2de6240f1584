"""The VectorStore protocol and the records it holds."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol, Sequence

from rag.schemas import ChunkHit, DocumentInfo

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np


@dataclass(frozen=True)
class ChunkRecord:
    """A chunk to store: where it sits in its document and its text."""

    ordinal: int
    page: int | None
    start: int
    end: int
    text: str


@dataclass(frozen=True)
class NewDocument:
    """A document and its embedded chunks, ready to commit."""

    source: str
    title: str
    kind: str
    content_hash: str
    size: int
    mtime: float | None
    pages: int
    chunks: Sequence[ChunkRecord]
    vectors: "np.ndarray"  # (len(chunks), dimension) float32, unit rows
    tags: list[str] = field(default_factory=list)
    metadata: dict[str, str] = field(default_factory=dict)


class VectorStore(Protocol):
    """A searchable collection of documents and their chunk vectors.

    The essential methods are :meth:`commit` (documents in, atomically) and
    :meth:`search`; the rest are conveniences over the same records.
    """

    name: str
    dimension: int

    def commit(self, documents: Sequence[NewDocument]) -> list[int]:
        """Store documents (replacing any with the same source) in one transaction.

        Returns the new document ids, in order. After it returns, the documents
        survive a crash of the process.
        """
        ...

    def search(self, vector: "np.ndarray", k: int) -> list[ChunkHit]:
        """The ``k`` chunks nearest to a unit query vector, best first."""
        ...

    def delete_documents(self, doc_ids: Sequence[int]) -> int:
        """Remove documents and their vectors; returns how many were removed."""
        ...

    def documents(self) -> list[DocumentInfo]:
        """Every stored document."""
        ...
