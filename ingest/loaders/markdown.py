"""Markdown files, kept as Markdown source (it chunks and cites well as it is)."""

from __future__ import annotations

import re
from pathlib import Path

from ingest.loaders._common import make_document
from ingest.loaders.base import LoadedDocument, Page
from ingest.loaders.text import decode_text

# YAML front matter: a first line of '---', closed by '---' or '...'.
_FRONT_MATTER = re.compile(r"\A---[ \t]*\n(.*?\n)?(?:---|\.\.\.)[ \t]*(?:\n|\Z)", re.DOTALL)
_FM_TITLE = re.compile(r"^title:[ \t]*(.+?)[ \t]*$", re.MULTILINE)
_ATX_H1 = re.compile(r"^ {0,3}#[ \t]+(.+?)(?:[ \t]+#+)?[ \t]*$")
_SETEXT_H1 = re.compile(r"^ {0,3}=+[ \t]*$")
_FENCE = re.compile(r"^ {0,3}(```|~~~)")


def split_front_matter(text: str) -> tuple[str, str | None]:
    """Remove YAML front matter from Markdown text.

    Returns:
        ``(body, title)`` where ``title`` is the front matter's ``title:`` value, if any.
    """
    match = _FRONT_MATTER.match(text)
    if not match:
        return text, None
    title_match = _FM_TITLE.search(match.group(1) or "")
    title = title_match.group(1).strip("'\"").strip() if title_match else None
    return text[match.end() :], title or None


def first_heading(text: str) -> str | None:
    """The first level-1 heading (``# Title`` or ``Title`` over ``===``), outside code fences."""
    in_fence = False
    previous = ""
    for line in text.split("\n"):
        if _FENCE.match(line):
            in_fence = not in_fence
        elif not in_fence:
            match = _ATX_H1.match(line)
            if match:
                return match.group(1).strip()
            if previous.strip() and _SETEXT_H1.match(line):
                return previous.strip()
        previous = line if not in_fence else ""
    return None


class MarkdownLoader:
    """Loads a Markdown file as one page, without its YAML front matter.

    The title is the front matter's ``title``, else the first ``# heading``, else the
    file name's stem.
    """

    kinds = ("markdown",)
    suffixes = (".md", ".markdown")

    def load(self, path: Path, data: bytes) -> LoadedDocument:
        """Decode ``data``, strip front matter and return the text as a single page."""
        text, encoding = decode_text(data)
        body, title = split_front_matter(text)
        title = title or first_heading(body) or path.stem
        return make_document(
            path,
            data,
            kind="markdown",
            title=title[:300],
            pages=[Page(None, body)],
            metadata={"encoding": encoding},
        )
