"""Collections: a FAISS index whose ids map to SQLite rows.

See :class:`rag.store.collection.Collection` for the durability design.
"""

from rag.store.base import ChunkRecord, VectorStore
from rag.store.manager import CollectionManager

__all__ = ["ChunkRecord", "CollectionManager", "VectorStore"]
