"""Plain-text files in any common encoding (.txt, .text, .log, .csv, .rst)."""

from __future__ import annotations

import codecs
from pathlib import Path

from ingest.loaders._common import make_document
from ingest.loaders.base import LoadedDocument, Page
from rag.errors import LoadError

#: Byte-order marks, longest first so UTF-32 LE is not mistaken for UTF-16 LE.
_BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)

#: Languages written with the Windows-1252 (Western European) character set.
_WESTERN = frozenset(
    "English French German Spanish Portuguese Italian Dutch Danish Swedish Norwegian "
    "Finnish Catalan Indonesian Unknown".split()
)
_BINARY = "not a text file: content looks binary"
# Control characters other than tab, newline, carriage return and form feed.
_CONTROL = {c for c in range(32) if c not in (9, 10, 12, 13)} | {127}


def decode_text(data: bytes) -> tuple[str, str]:
    """Decode the bytes of a text file and normalise its newlines to ``\\n``.

    Tries the byte-order mark, then UTF-8 (the fast path), then charset detection
    with ``charset_normalizer``.

    Returns:
        ``(text, encoding)``.

    Raises:
        LoadError: the bytes do not look like text.
    """
    text, encoding = _decode(data)
    if _looks_binary(text):
        raise LoadError(_BINARY)
    text = text.removeprefix("\ufeff")
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text, encoding


def _decode(data: bytes) -> tuple[str, str]:
    for bom, codec in _BOMS:
        if data.startswith(bom):
            try:
                return data.decode(codec), codec.removesuffix("-sig")
            except UnicodeDecodeError:
                raise LoadError(f"not a text file: invalid {codec} after its byte-order mark") from None
    if b"\x00" in data:
        # Text in an 8-bit or UTF-8 encoding never holds NUL bytes; UTF-16 without a
        # BOM is too rare to guess at.
        raise LoadError(_BINARY)
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    best = from_bytes(data).best()
    if best is None:
        raise LoadError(_BINARY)
    if best.language in _WESTERN and _single_byte(best.encoding):
        # On short Western text, detection often picks a Baltic or Central European code
        # page ("déją vu") that is no more likely than Windows-1252; prefer the latter.
        try:
            text = data.decode("cp1252")
        except UnicodeDecodeError:
            pass
        else:
            return text, "cp1252"
    return str(best), best.encoding


def _single_byte(encoding: str) -> bool:
    multi_byte = ("utf", "big5", "gb", "euc", "shift", "cp932", "cp949", "cp950", "iso2022", "johab", "hz")
    return not encoding.lower().startswith(multi_byte)


def _looks_binary(text: str, sample: int = 8192) -> bool:
    head = text[:sample]
    if not head:
        return False
    controls = sum(1 for ch in head if ord(ch) in _CONTROL)
    return controls / len(head) > 0.01


#: Longest first line still taken for a title.
_TITLE_CHARS = 150


def text_title(text: str, suffix: str) -> str | None:
    """The title a plain-text file gives itself, if any.

    A ``.txt`` file whose first paragraph is a single short line (a title, then a blank
    line, then the text), or a ``.rst`` file whose first line is underlined (``===``).
    CSV and log files have no title.
    """
    if suffix not in (".txt", ".text", ".rst"):
        return None
    lines = text.lstrip("\n").split("\n", 3)
    if len(lines) < 3:
        return None
    first, second, rest = lines[0].strip(), lines[1].strip(), "".join(lines[2:]).strip()
    if not first or len(first) > _TITLE_CHARS or not rest:
        return None
    if suffix == ".rst":
        return first if len(second) >= len(first) and set(second) <= set("=-~^*#+") else None
    return first if not second else None


class TextLoader:
    """Loads a plain-text file as one page; the title is the file's own (see
    :func:`text_title`), else the file name's stem."""

    kinds = ("text",)
    suffixes = (".txt", ".text", ".log", ".csv", ".rst")

    def load(self, path: Path, data: bytes) -> LoadedDocument:
        """Decode ``data`` and return it as a single page."""
        text, encoding = decode_text(data)
        return make_document(
            path,
            data,
            kind="text",
            title=text_title(text, path.suffix.lower()) or path.stem,
            pages=[Page(None, text)],
            metadata={"encoding": encoding},
        )
