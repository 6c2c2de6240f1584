"""The Embedder protocol."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, Sequence

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np


class Embedder(Protocol):
    """Turns texts into L2-normalized float32 vectors.

    One essential method, :meth:`embed_batch`; :meth:`embed_query` and
    :meth:`count_tokens` are built on the same model.
    """

    #: Name recorded in a collection's manifest (registry name or model id).
    name: str

    @property
    def backend(self) -> str:
        """What computes the vectors (``torch``, ``onnx``, ``onnx-int8``), recorded in each
        collection's ingestion recipe: vectors of two backends agree only approximately."""
        ...

    @property
    def dimension(self) -> int: ...

    def embed_batch(self, texts: Sequence[str], *, progress: bool = False) -> "np.ndarray":
        """Embed documents; returns an (n, dimension) float32 array, rows of unit norm."""
        ...

    def embed_query(self, text: str) -> "np.ndarray":
        """Embed one query; returns a (dimension,) float32 vector."""
        ...

    def count_tokens(self, text: str) -> int:
        """Number of encoder tokens in ``text`` (without special tokens)."""
        ...
