"""What a loader returns, and the Loader protocol."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol


@dataclass(frozen=True)
class Page:
    """The text of one page (PDF) or of the whole document (other formats).

    ``number`` is 1-based for paged formats and ``None`` for formats without pages.
    Chunk offsets are character offsets into ``text``, so ``text[start:end]`` gives
    back a chunk exactly.
    """

    number: int | None
    text: str


@dataclass(frozen=True)
class LoadedDocument:
    """A parsed document, ready to chunk."""

    source: Path
    title: str
    kind: str  # "pdf" | "text" | "markdown" | "html"
    pages: list[Page]
    content_hash: str  # sha256 of the file's bytes
    mtime: float
    metadata: dict[str, str] = field(default_factory=dict)

    @property
    def char_count(self) -> int:
        return sum(len(p.text) for p in self.pages)


class Loader(Protocol):
    """Turns one file into a :class:`LoadedDocument`.

    Raises :class:`rag.errors.LoadError` with a reason a user understands when the file
    cannot be read (encrypted, corrupt, no text layer...).
    """

    kinds: tuple[str, ...]

    def load(self, path: Path, data: bytes) -> LoadedDocument: ...
