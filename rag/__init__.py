"""groundrag: retrieval-augmented question answering that cites its sources.

The package is layered (arrows point down only):

- apps: :mod:`rag.cli`
- engine: :mod:`rag.embed`, :mod:`rag.store`, :mod:`rag.models`
- foundation: :mod:`rag.config`, :mod:`rag.errors`, :mod:`rag.schemas`

Importing :mod:`rag` is cheap: no model, torch or faiss import happens here.
"""

__version__ = "0.1.0"
