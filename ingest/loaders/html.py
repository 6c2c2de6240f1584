"""HTML pages: the readable main text, without menus, scripts or page furniture."""

from __future__ import annotations

import codecs
import re
from pathlib import Path

from ingest.loaders._common import make_document
from ingest.loaders.base import LoadedDocument, Page
from rag.errors import LoadError

#: Elements that never hold the content a reader came for.
DROP_TAGS = (
    "script", "style", "noscript", "nav", "header", "footer", "aside", "form",
    "svg", "iframe", "template", "button", "select", "dialog", "head",
)  # fmt: skip
DROP_ROLES = ("navigation", "banner", "contentinfo")
#: Words in an element's id or class that mark page furniture built from plain <div>s.
FURNITURE_WORDS = frozenset(
    "nav navbar navigation menu menubar breadcrumb breadcrumbs cookie cookies consent "
    "sidebar footer masthead skip share sharing social picker subnav topbar".split()
)
_WORD_SPLIT = re.compile(r"[\s_-]+")

# Blocks that end a paragraph (a blank line after them) and blocks that end a line.
_PARAGRAPH = frozenset(
    "p h1 h2 h3 h4 h5 h6 ul ol dl table blockquote pre figure section article main "
    "hgroup details address fieldset".split()
)
_LINE = frozenset(
    "div li dt dd tr br hr caption figcaption summary legend label option center body "
    "thead tbody tfoot".split()
)
_CELL = frozenset(("td", "th"))
# Block boundaries are marked while walking and turned into newlines at the end, so
# that "</li><li>" gives one newline, not two, and "</p><p>" one blank line.
_LINE_MARK, _PARA_MARK = "\x1e", "\x1d"
_NO_MARKS = str.maketrans({_LINE_MARK: " ", _PARA_MARK: " ", "\n": " "})
_NO_MARKS_KEEP_LINES = str.maketrans({_LINE_MARK: " ", _PARA_MARK: " "})
_SPACES = re.compile(r"[^\S\n]+")
_BREAKS = re.compile(r"[ \t|]*[\x1d\x1e][\s\x1d\x1e|]*")
# Below this many characters a <main>/<article> is a fragment, not the page's content.
_MIN_MAIN_CHARS = 200


def html_to_text(data: bytes | str) -> tuple[str, str | None]:
    """Readable text of an HTML page, and its title.

    Paragraphs and headings are separated by a blank line, list items and table rows
    by a newline, table cells by `` | ``. Runs of whitespace are collapsed.

    Returns:
        ``(text, title)``; ``title`` is ``None`` when the page has neither a
        ``<title>`` nor an ``<h1>``.
    """
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(data, "lxml")  # bytes: honours the BOM and <meta charset>
    title = _title(soup)
    _drop_furniture(soup)
    main = _main_element(soup)
    if main is not None:
        text = _render(main)
        if len(text) >= _MIN_MAIN_CHARS:
            return text, title
    return _render(soup.body or soup), title


def _title(soup) -> str | None:
    for tag in (soup.title, soup.find("h1")):
        if tag is not None:
            text = " ".join(tag.get_text(" ").split())
            if text:
                return text[:300]
    return None


def _drop_furniture(soup) -> None:
    for tag in soup.find_all(DROP_TAGS):
        if tag.decomposed:
            continue
        # An <article>'s own <header> holds its headline and byline: keep it.
        if tag.name == "header" and tag.find_parent(("article", "main")) is not None:
            continue
        tag.decompose()
    for tag in soup.find_all(attrs={"role": True}):
        if not tag.decomposed and str(tag.get("role", "")).strip().lower() in DROP_ROLES:
            tag.decompose()
    for tag in soup.find_all(attrs={"hidden": True}):
        if not tag.decomposed:
            tag.decompose()
    for tag in soup.find_all(_is_furniture):
        if not tag.decomposed and tag.find(("main", "article", "h1")) is None:
            tag.decompose()


def _is_furniture(tag) -> bool:
    if tag.name in ("html", "body", "main", "article") or not tag.attrs:
        return False
    names = [tag.get("id") or "", *(tag.get("class") or ())]
    words = {w for name in names for w in _WORD_SPLIT.split(str(name).lower())}
    return not words.isdisjoint(FURNITURE_WORDS)


def _main_element(soup):
    """The single <main>, else the single <article>; ``None`` when ambiguous or absent."""
    for name in ("main", "article"):
        found = soup.find_all(name, limit=2)
        if len(found) == 1:
            return found[0]
    return None


def _render(root) -> str:
    """Walk ``root`` without recursion (pages nest deeply) and lay the text out."""
    from bs4 import NavigableString, Tag
    from bs4.element import Comment, Declaration, Doctype, ProcessingInstruction

    skip_strings = (Comment, Declaration, Doctype, ProcessingInstruction)
    out: list[str] = []
    stack: list[object] = [root]
    while stack:
        node = stack.pop()
        if isinstance(node, str) and not isinstance(node, NavigableString):
            out.append(node)  # a separator pushed when a block closed
        elif isinstance(node, NavigableString):
            if not isinstance(node, skip_strings):
                out.append(_SPACES.sub(" ", str(node).translate(_NO_MARKS)))
        elif isinstance(node, Tag):
            name = node.name
            if name == "pre":  # keep its line breaks; spaces still collapse in _tidy
                lines = node.get_text().translate(_NO_MARKS_KEEP_LINES).split("\n")
                out.extend((_PARA_MARK, _LINE_MARK.join(lines), _PARA_MARK))
                continue
            if name in _PARAGRAPH:
                out.append(_PARA_MARK)
                stack.append(_PARA_MARK)
            elif name in _LINE:
                out.append(_LINE_MARK)
                stack.append(_LINE_MARK)
            elif name in _CELL:
                stack.append(" | ")
            stack.extend(reversed(node.contents))
    return _tidy("".join(out))


def _tidy(text: str) -> str:
    text = _BREAKS.sub(lambda m: "\n\n" if _PARA_MARK in m.group() else "\n", text)
    lines = (_SPACES.sub(" ", line).strip(" |") for line in text.split("\n"))
    return "\n".join(lines).strip()


def _looks_binary(data: bytes) -> bool:
    head = data[:8192]
    return b"\x00" in head and not head.startswith(
        (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE, codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)
    )


class HtmlLoader:
    """Loads an HTML page as one page of readable text (BeautifulSoup with lxml).

    Drops scripts, styles, navigation, headers, footers, forms and the like; keeps the
    page's ``<main>`` or single ``<article>`` when it has one, else its ``<body>``.
    The title is the ``<title>``, else the first ``<h1>``, else the file name's stem.
    """

    kinds = ("html",)
    suffixes = (".html", ".htm", ".xhtml")

    def load(self, path: Path, data: bytes) -> LoadedDocument:
        """Extract the readable text of the page in ``data``."""
        if _looks_binary(data):
            raise LoadError("not an HTML file: content looks binary")
        text, title = html_to_text(data)
        return make_document(
            path, data, kind="html", title=title or path.stem, pages=[Page(None, text)]
        )
