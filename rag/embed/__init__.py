"""Text encoders behind the :class:`Embedder` protocol."""

from rag.embed.base import Embedder

__all__ = ["Embedder", "make_embedder"]


def make_embedder(settings, model: str | None = None) -> Embedder:
    """The configured encoder (sentence-transformers), loaded lazily on first use."""
    from rag.embed.sentence import SentenceTransformerEmbedder

    return SentenceTransformerEmbedder(model or settings.embedding_model, settings)
