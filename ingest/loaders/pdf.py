"""PDF files, one :class:`Page` per PDF page: PDFium when it can read them, else pypdf."""

from __future__ import annotations

import io
import logging
import re
import warnings
from pathlib import Path

from ingest.loaders import pdfium
from ingest.loaders._common import make_document, short_reason
from ingest.loaders.base import LoadedDocument, Page
from rag.errors import LoadError

NO_TEXT_LAYER = "no text layer: the PDF looks scanned (image-only); OCR is not supported"
PASSWORD = "password-protected PDF: cannot open without its password"

# A page with an image and fewer visible characters than this counts as image-only:
# ImageMagick, scanners and fax software stamp a label ("Background", a page number)
# over the scan, which is not a text layer.
_STRAY_CHARS = 25
_LETTER = re.compile(r"[^\W\d_]")
_FILE_NAME = re.compile(r"\.(pdf|docx?|odt|rtf|txt|tex|dvi|ps|indd|pptx?|xlsx?)\s*$", re.IGNORECASE)
_quiet = False


def _silence_pypdf() -> None:
    """pypdf logs and warns about every small flaw in a file; a loader has no use for it."""
    global _quiet
    if not _quiet:
        logging.getLogger("pypdf").setLevel(logging.ERROR)
        warnings.filterwarnings("ignore", module=r"pypdf(\.|$)")
        _quiet = True


class PdfLoader:
    """Loads a PDF's text layer page by page, with PDFium (``pypdfium2``) when it
    can read the file and ``pypdf`` otherwise.

    pypdf is the fallback for files PDFium refuses (passwords, damage) and the judge
    of files without enough text to be sure they are not scanned, so those files
    fail with the same reasons as before. Pages without text are kept as ``Page(number, "")`` so page numbers stay right.
    Encrypted files are opened with the empty password when that works (files with
    only an owner password); AES encryption needs the ``cryptography`` package.
    """

    kinds = ("pdf",)
    suffixes = (".pdf",)

    def __init__(self, *, fast: bool = True) -> None:
        """``fast=False`` reads every file with pypdf (the reference path)."""
        self.fast = fast

    def load(self, path: Path, data: bytes) -> LoadedDocument:
        """Extract the text of every page of the PDF in ``data``.

        Raises:
            LoadError: password-protected, corrupt, or without a text layer.
        """
        if b"%PDF-" not in data[:1024]:
            raise LoadError("corrupt or unreadable PDF: no PDF header (is it really a PDF?)")
        fast = pdfium.read_text(data, min_chars=_STRAY_CHARS) if self.fast and pdfium.available() else None
        if fast is not None:
            return _document(path, data, fast.pages, fast.failed, fast.encrypted, _clean_title(fast.title))
        return self._load_with_pypdf(path, data)

    def _load_with_pypdf(self, path: Path, data: bytes) -> LoadedDocument:
        from pypdf import PdfReader
        from pypdf.errors import DependencyError

        _silence_pypdf()
        try:
            reader = PdfReader(io.BytesIO(data), strict=False)
            encrypted = reader.is_encrypted
            if encrypted and not reader.decrypt(""):
                raise LoadError(PASSWORD)
            page_count = len(reader.pages)
        except LoadError:
            raise
        except DependencyError as exc:
            raise LoadError(
                "encrypted PDF needs the 'cryptography' package to open: "
                "pip install 'groundrag[engine]'"
            ) from exc
        except Exception as exc:
            if "decrypt" in str(exc).lower() or "password" in str(exc).lower():
                raise LoadError(PASSWORD) from exc
            raise LoadError(f"corrupt or unreadable PDF: {short_reason(exc)}") from exc
        if page_count == 0:
            raise LoadError("corrupt or unreadable PDF: it has no pages")

        pages, failed = _extract_pages(reader)
        if _is_image_only(reader, pages):
            raise LoadError(NO_TEXT_LAYER)
        return _document(path, data, pages, failed, encrypted, _title(reader))


def _document(path: Path, data: bytes, pages: list[Page], failed: list[int], encrypted: bool,
              title: str | None) -> LoadedDocument:
    metadata = {"page_count": str(len(pages))}
    if encrypted:
        metadata["encrypted"] = "true"
    if failed:
        metadata["pages_failed"] = ",".join(map(str, failed))
    return make_document(path, data, kind="pdf", title=title or path.stem, pages=pages, metadata=metadata)


def _extract_pages(reader) -> tuple[list[Page], list[int]]:
    """Plain text of every page; a page that cannot be parsed becomes empty."""
    pages: list[Page] = []
    failed: list[int] = []
    for number, page in enumerate(reader.pages, start=1):
        try:
            text = page.extract_text() or ""
        except Exception:  # one broken page must not lose the whole document
            text = ""
            failed.append(number)
        pages.append(Page(number, text.replace("\x00", "")))
    return pages, failed


def _is_image_only(reader, pages: list[Page]) -> bool:
    """True when no page has more than a stray label of text (checked only then)."""
    if any(len("".join(p.text.split())) >= _STRAY_CHARS for p in pages):
        return False
    for page, extracted in zip(reader.pages, pages):
        if extracted.text.strip() and not _has_image(page):
            return False
    return True


def _has_image(page) -> bool:
    try:
        xobjects = page["/Resources"].get_object().get("/XObject")
        if xobjects is None:
            return False
        xobjects = xobjects.get_object()
        return any(xobjects[name].get_object().get("/Subtype") == "/Image" for name in xobjects)
    except Exception:
        return False


def _title(reader) -> str | None:
    """The /Title entry when it reads like a title (not empty, a file name or an id)."""
    try:
        title = reader.metadata.title if reader.metadata else None
    except Exception:
        return None
    return _clean_title(title)


def _clean_title(title) -> str | None:
    """``title`` when it reads like a title (not empty, a file name or an id)."""
    if not isinstance(title, str):
        return None
    title = " ".join(title.replace("\x00", " ").split())
    if not 2 <= len(title) <= 300 or title.lower() in {"untitled", "title", "document"}:
        return None
    if len(_LETTER.findall(title)) < 3 or _FILE_NAME.search(title):
        return None
    return title
