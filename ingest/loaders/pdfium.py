"""The fast PDF text path: PDFium (through ``pypdfium2``), about 20x faster than pypdf.

:class:`ingest.loaders.pdf.PdfLoader` tries this first and falls back to pypdf for
whatever PDFium cannot read (it also leaves pypdf the files that look scanned, so
the reasons a user sees for unreadable files do not change).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from ingest.loaders.base import Page

# PDFium is not thread-safe: one call at a time per process. ctypes releases the
# GIL inside each call, so other Python threads (the encoder) still run meanwhile.
_LOCK = threading.Lock()
#: PDFium writes U+0002 or U+FFFE for a hyphen that breaks a word at a line end;
#: the text layer (and pypdf) has a plain hyphen there. \r\n ends its generated lines.
_FIXES = str.maketrans({"\x02": "-", "\ufffe": "-", "\x00": None, "\r": None})


@dataclass(frozen=True)
class PdfiumText:
    """What PDFium read from one PDF."""

    pages: list[Page]
    failed: list[int]  # 1-based numbers of pages whose text could not be read
    title: str | None  # the raw /Title entry
    encrypted: bool


def available() -> bool:
    """Whether ``pypdfium2`` is installed (it is part of the ``engine`` extra)."""
    try:
        import pypdfium2  # noqa: F401
    except ImportError:
        return False
    return True


def read_text(data: bytes, *, min_chars: int) -> PdfiumText | None:
    """The text of every page of the PDF in ``data``, or ``None`` to use pypdf instead.

    ``None`` when PDFium cannot open the file (password, damage) or when no page has
    ``min_chars`` visible characters (possibly scanned: pypdf decides and says why).
    """
    import pypdfium2 as pdfium

    with _LOCK:
        try:
            document = pdfium.PdfDocument(data)
        except pdfium.PdfiumError:
            return None
        try:
            return _read(pdfium, document, min_chars)
        finally:
            document.close()


def _read(pdfium, document, min_chars: int) -> PdfiumText | None:
    pages: list[Page] = []
    failed: list[int] = []
    for number in range(1, len(document) + 1):
        try:
            page = document[number - 1]
            try:
                textpage = page.get_textpage()
                text = textpage.get_text_range().translate(_FIXES)
                textpage.close()
            finally:
                page.close()
        except pdfium.PdfiumError:  # one broken page must not lose the whole document
            text = ""
            failed.append(number)
        pages.append(Page(number, text))
    if not pages or not any(len("".join(p.text.split())) >= min_chars for p in pages):
        return None
    try:
        title = document.get_metadata_value("Title")
    except Exception:
        title = None
    encrypted = pdfium.raw.FPDF_GetSecurityHandlerRevision(document.raw) != -1
    return PdfiumText(pages, failed, title, encrypted)
