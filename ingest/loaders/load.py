"""``load_document``: check a file, read it once and hand it to the right loader."""

from __future__ import annotations

import dataclasses
import os
import stat
from pathlib import Path

from ingest.loaders._common import short_reason
from ingest.loaders.base import LoadedDocument, Loader
from ingest.loaders.html import HtmlLoader
from ingest.loaders.markdown import MarkdownLoader
from ingest.loaders.pdf import NO_TEXT_LAYER, PdfLoader
from ingest.loaders.text import TextLoader
from rag.errors import LoadError

_LOADERS: tuple[Loader, ...] = (PdfLoader(), TextLoader(), MarkdownLoader(), HtmlLoader())
_BY_SUFFIX: dict[str, Loader] = {s: ld for ld in _LOADERS for s in ld.suffixes}  # type: ignore[attr-defined]

#: File name suffixes (lower case, with the dot) that :func:`load_document` reads.
SUPPORTED_SUFFIXES: tuple[str, ...] = tuple(_BY_SUFFIX)

_MB = 1024 * 1024


def is_supported(path: str | os.PathLike[str]) -> bool:
    """Whether ``path``'s suffix names a file type :func:`load_document` can read."""
    return Path(path).suffix.lower() in _BY_SUFFIX


def load_document(path: Path, max_bytes: int | None = None) -> LoadedDocument:
    """Read one file and turn it into a :class:`LoadedDocument`.

    Args:
        path: the file; its suffix chooses the loader (see ``SUPPORTED_SUFFIXES``).
        max_bytes: refuse files larger than this; ``None`` for no limit.

    Returns:
        The document, with the sha256 of the file's bytes and its modification time.

    Raises:
        LoadError: the only exception it raises; its message is a one-line reason
            for the user ("file not found", "password-protected PDF: ...").

    Example:
        >>> doc = load_document(Path("report.pdf"), max_bytes=512 * 1024 * 1024)  # doctest: +SKIP
        >>> doc.pages[0].number
        1
    """
    path = Path(path)
    info = _stat(path)
    loader = _loader_for(path)
    if max_bytes is not None and info.st_size > max_bytes:
        raise LoadError(
            f"file is {_size(info.st_size, exact=False)}, larger than the {_size(max_bytes)} limit"
        )
    if info.st_size == 0:
        raise LoadError("file is empty")
    data = _read(path)
    if not data:
        raise LoadError("file is empty")
    try:
        document = loader.load(path, data)
    except LoadError:
        raise
    except MemoryError as exc:
        raise LoadError("not enough memory to read this file") from exc
    except RecursionError as exc:
        raise LoadError("file is too deeply nested to read") from exc
    except Exception as exc:  # a parser bug must reach the user as a reason, not a traceback
        kind = loader.kinds[0]
        raise LoadError(f"could not read {kind} file: {short_reason(exc)}") from exc
    if not any(page.text.strip() for page in document.pages):
        raise LoadError(NO_TEXT_LAYER if document.kind == "pdf" else "no text found in the file")
    return dataclasses.replace(document, mtime=info.st_mtime)


def _stat(path: Path) -> os.stat_result:
    try:
        info = path.stat()
    except FileNotFoundError:
        if path.is_symlink():
            raise LoadError("file not found (broken symbolic link)") from None
        raise LoadError("file not found") from None
    except PermissionError:
        raise LoadError("permission denied: cannot read file") from None
    except NotADirectoryError:
        raise LoadError("file not found") from None
    except OSError as exc:
        raise LoadError(f"cannot read file: {exc.strerror or short_reason(exc)}") from None
    if stat.S_ISDIR(info.st_mode):
        raise LoadError("is a directory")
    if not stat.S_ISREG(info.st_mode):
        # Opening a FIFO or a device could block forever or never end.
        raise LoadError("not a regular file")
    return info


def _loader_for(path: Path) -> Loader:
    suffix = path.suffix.lower()
    loader = _BY_SUFFIX.get(suffix)
    if loader is None:
        what = f"'{suffix}'" if suffix else "(no extension)"
        raise LoadError(f"unsupported file type {what} (supported: {', '.join(SUPPORTED_SUFFIXES)})")
    return loader


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise LoadError("file not found") from None
    except PermissionError:
        raise LoadError("permission denied: cannot read file") from None
    except IsADirectoryError:
        raise LoadError("is a directory") from None
    except OSError as exc:
        raise LoadError(f"cannot read file: {exc.strerror or short_reason(exc)}") from None


def _size(n: int, exact: bool = True) -> str:
    """'512 MB', '600.0 MB', '12.5 KB', '100 bytes' (binary units, as file managers show)."""
    for unit, factor in (("GB", _MB * 1024), ("MB", _MB), ("KB", 1024)):
        if n >= factor:
            value = n / factor
            return f"{value:g} {unit}" if exact and value == int(value) else f"{value:.1f} {unit}"
    return f"{n} bytes"
