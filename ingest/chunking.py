"""Split pages into chunks sized in the encoder's own tokens, keeping exact offsets.

Each chunk is an exact substring of its page's text: ``page.text[start:end] ==
chunk.text``, so an answer can cite the page and quote the span verbatim.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Callable

from ingest.loaders.base import LoadedDocument
from rag.errors import require
from rag.store.base import ChunkRecord

#: Paragraphs, then lines, then sentences, then words: the usual reading units.
SEPARATORS = ["\n\n", "\n", ". ", "? ", "! ", "; ", ", ", " ", ""]


class Chunker:
    """Token-sized recursive splitting (langchain-text-splitters) with source offsets.

    Args:
        count_tokens: the encoder's token counter (``Embedder.count_tokens``).
        chunk_tokens: the most tokens in a chunk.
        overlap_tokens: tokens shared by neighbouring chunks.

    Example:
        >>> chunker = Chunker(embedder.count_tokens, 200, 32)  # doctest: +SKIP
        >>> chunks = chunker.split(document)  # doctest: +SKIP
    """

    def __init__(self, count_tokens: Callable[[str], int], chunk_tokens: int, overlap_tokens: int) -> None:
        if overlap_tokens >= chunk_tokens:
            from rag.errors import ConfigError

            raise ConfigError(
                f"chunk overlap ({overlap_tokens} tokens) must be smaller than the chunk size ({chunk_tokens})"
            )
        splitters = require("langchain_text_splitters", "engine")
        limit = chunk_tokens * 12

        @lru_cache(maxsize=4096)
        def length(text: str) -> int:
            # A text this long is far over the limit whatever its tokens (each token
            # covers a few characters); skip tokenizing it: the splitter only needs
            # to know it must split further, and measures the smaller pieces exactly.
            if len(text) > limit:
                return len(text) // 4
            return count_tokens(text)

        self._splitter = splitters.RecursiveCharacterTextSplitter(
            separators=SEPARATORS,
            keep_separator="end",
            chunk_size=chunk_tokens,
            chunk_overlap=overlap_tokens,
            length_function=length,
            strip_whitespace=True,
        )

    def split_text(self, text: str) -> list[tuple[int, int, str]]:
        """(start, end, text) of each chunk of ``text``, in order."""
        out: list[tuple[int, int, str]] = []
        cursor = 0
        for piece in self._splitter.split_text(text):
            start = text.find(piece, cursor)
            if start < 0:  # cannot happen for substrings; guard against a splitter change
                start = text.find(piece)
            if start < 0:
                continue
            out.append((start, start + len(piece), piece))
            cursor = start + 1
        return out

    def split(self, document: LoadedDocument) -> list[ChunkRecord]:
        """Chunks of every page of ``document``, numbered in reading order."""
        chunks: list[ChunkRecord] = []
        for page in document.pages:
            if not page.text.strip():
                continue
            for start, end, text in self.split_text(page.text):
                chunks.append(ChunkRecord(ordinal=len(chunks), page=page.number, start=start, end=end, text=text))
        return chunks
