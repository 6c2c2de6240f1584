"""Document loaders: turn a file (PDF, text, Markdown, HTML) into pages of text.

Use :func:`load_document`; it raises only :class:`rag.errors.LoadError`, whose message
says why a file cannot be read. Parsers (pypdf, BeautifulSoup) are imported on first
use, so importing this package is cheap.
"""

from __future__ import annotations

from ingest.loaders.base import LoadedDocument, Loader, Page
from ingest.loaders.load import SUPPORTED_SUFFIXES, is_supported, load_document

__all__ = [
    "SUPPORTED_SUFFIXES",
    "LoadedDocument",
    "Loader",
    "Page",
    "is_supported",
    "load_document",
]
