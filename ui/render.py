"""Pure functions that turn API responses into HTML/Markdown for the pages.

Nothing here imports Streamlit, so every function is unit-tested on its own. All text
that comes from documents or the model is HTML-escaped before it is wrapped in tags.
"""

from __future__ import annotations

import html
import re
from pathlib import PurePath
from typing import Iterable, Sequence

from rag.schemas import AskResponse, ChunkHit, Citation, SentenceSupport

#: An inline citation marker such as ``[1]`` or ``[1, 3]``.
MARKER = re.compile(r"\[(\d{1,3}(?:\s*[,;]\s*\d{1,3})*)\]")

#: Shown instead of an answer when the service abstained.
NOT_FOUND_TITLE = "Not found in your documents"

#: Styles used by the HTML below; injected once per page (see :func:`css`).
CSS = """
<style>
.rag-answer { line-height: 1.6; }
.rag-cite { font-size: 0.75em; font-weight: 600; color: #1f5fbf; padding: 0 1px; }
.rag-unsupported { background: #fde8e8; border-bottom: 2px dotted #c0392b; }
.rag-unsupported-icon { color: #c0392b; font-size: 0.8em; }
.rag-supported-icon { color: #1e8449; font-size: 0.8em; margin-right: 0.25em; }
.rag-passage { font-size: 0.92em; line-height: 1.5;
               max-height: 22em; overflow-y: auto; padding: 0.5em 0.75em;
               border-left: 3px solid #d0d7de; background: #f8f9fa; color: #1f2328;
               overflow-wrap: anywhere; }
.rag-passage mark { background: #ffe066; color: inherit; padding: 0 1px; }
.rag-source { color: #57606a; font-size: 0.9em; overflow-wrap: anywhere; }
.rag-sources-title { font-weight: 600; margin-top: 0.75em; }
.rag-timings { color: #57606a; font-size: 0.85em; }
</style>
"""


def css() -> str:
    """The ``<style>`` block the HTML of this module relies on."""
    return CSS


def esc(text: str) -> str:
    """HTML-escape ``text`` into one line; Markdown characters stay literal, newlines become ``<br>``."""
    escaped = html.escape(text, quote=True)
    # Streamlit runs Markdown over unsafe HTML too: keep '*', '_', '$' etc. literal.
    for ch, ent in (("*", "&#42;"), ("_", "&#95;"), ("$", "&#36;"), ("`", "&#96;"), ("~", "&#126;")):
        escaped = escaped.replace(ch, ent)
    # One line of HTML: a blank line would end Markdown's HTML block and the rest of
    # the passage would be parsed as Markdown (headings, code blocks).
    return escaped.replace("\r\n", "\n").replace("\n", "<br>")


def markers(text: str) -> list[int]:
    """Marker numbers in ``text`` in order of appearance, without repeats."""
    seen: list[int] = []
    for m in MARKER.finditer(text):
        for n in re.split(r"\s*[,;]\s*", m.group(1)):
            if int(n) not in seen:
                seen.append(int(n))
    return seen


def _with_markers(text: str) -> str:
    """Escape ``text`` and turn each ``[n]`` into a small superscript badge."""
    out, last = [], 0
    for m in MARKER.finditer(text):
        out.append(esc(text[last:m.start()]))
        out.append(f'<sup class="rag-cite">[{esc(m.group(1))}]</sup>')
        last = m.end()
    out.append(esc(text[last:]))
    return "".join(out)


def _judged(sentences: Sequence[SentenceSupport]) -> bool:
    return any(s.supported is not None or s.support is not None for s in sentences)


def is_unsupported(sentence: SentenceSupport, threshold: float = 0.5) -> bool:
    """A sentence the verifier did not find in the passages."""
    if sentence.supported is not None:
        return not sentence.supported
    return sentence.support is not None and sentence.support < threshold


def answer_html(response: AskResponse) -> str:
    """The answer as HTML: citation badges, and unsupported sentences marked.

    Sentences are located in the answer text in order; text between them is kept as is,
    so the answer is never altered, only decorated.
    """
    text = response.answer
    if not (response.sentences and _judged(response.sentences)):
        return f'<div class="rag-answer">{_with_markers(text)}</div>'
    out, cursor = [], 0
    for s in response.sentences:
        at = text.find(s.text, cursor) if s.text else -1
        if at < 0:
            continue
        out.append(_with_markers(text[cursor:at]))
        body = _with_markers(s.text)
        score = "" if s.support is None else f" (support {s.support:.2f})"
        if is_unsupported(s):
            title = esc(f"Not supported by the passages{score}")
            out.append(f'<span class="rag-unsupported" title="{title}">{body}'
                       f' <span class="rag-unsupported-icon">⚠ unsupported</span></span>')
        elif s.supported is not None or s.support is not None:
            title = esc(f"Supported by the passages{score}")
            out.append(f'<span class="rag-supported" title="{title}">{body}'
                       f'<span class="rag-supported-icon" aria-label="supported"> ✓</span></span>')
        else:
            out.append(body)
        cursor = at + len(s.text)
    out.append(_with_markers(text[cursor:]))
    return f'<div class="rag-answer">{"".join(out)}</div>'


def support_summary(response: AskResponse) -> str | None:
    """'2 of 3 sentences supported' (None when no verifier judged the answer)."""
    judged = [s for s in response.sentences if s.supported is not None or s.support is not None]
    if not judged:
        return None
    ok = sum(1 for s in judged if not is_unsupported(s))
    text = f"{ok} of {len(judged)} sentences supported by the passages"
    if response.groundedness is not None:
        text += f" · groundedness {response.groundedness:.0%}"
    return text


def quote_span(passage: ChunkHit, citation: Citation) -> tuple[int, int] | None:
    """Offsets of the cited quote inside ``passage.text``, or None when it is not there.

    Citation offsets are in the page's (or document's) text, like the passage's own
    ``start``; when they do not line up the quote is searched for in the text.
    """
    text, quote = passage.text, citation.quote
    if not quote:
        return None
    rel = citation.start - passage.start
    if 0 <= rel and text[rel:rel + len(quote)] == quote:
        return rel, rel + len(quote)
    at = text.find(quote)
    if at >= 0:
        return at, at + len(quote)
    stripped = quote.strip()
    at = text.find(stripped) if stripped else -1
    return (at, at + len(stripped)) if at >= 0 else None


def highlight(text: str, span: tuple[int, int] | None) -> str:
    """``text`` escaped, with ``text[span]`` wrapped in ``<mark>``."""
    if span is None:
        return esc(text)
    a, b = span
    return f"{esc(text[:a])}<mark>{esc(text[a:b])}</mark>{esc(text[b:])}"


def passage_for(citation: Citation, passages: Iterable[ChunkHit]) -> ChunkHit | None:
    """The passage a citation points into (by chunk id)."""
    return next((p for p in passages if p.chunk_id == citation.chunk_id), None)


def citation_html(citation: Citation, passages: Sequence[ChunkHit]) -> str:
    """The passage of a citation with its quote highlighted (the quote alone if no passage)."""
    passage = passage_for(citation, passages)
    if passage is None:
        body = f"<mark>{esc(citation.quote)}</mark>"
    else:
        span = quote_span(passage, citation)
        body = highlight(passage.text, span) if span else f"<mark>{esc(citation.quote)}</mark>"
    return f'<div class="rag-passage">{body}</div>'


def source_name(source: str) -> str:
    """The file name of a source path (uploads keep their original names)."""
    return PurePath(source).name or source


def citation_label(citation: Citation) -> str:
    """'[1] Annual report — p. 12' for an expander title (plain text)."""
    title = citation.title or source_name(citation.source)
    page = f" — p. {citation.page}" if citation.page else ""
    return f"[{citation.marker}] {title}{page}"


def source_line(citation: Citation) -> str:
    """The source file and character span, as escaped HTML."""
    where = f"page {citation.page}, " if citation.page else ""
    return (f'<div class="rag-source">{esc(source_name(citation.source))} · {where}'
            f"characters {citation.start}–{citation.end}</div>")


def timings_text(timings: dict[str, float]) -> str:
    """'retrieval 0.12 s · first token 0.80 s · generation 2.10 s · total 2.30 s'."""
    names = (("retrieve", "retrieval"), ("first_token", "first token"), ("generate", "generation"),
             ("total", "total"))
    parts = [f"{label} {timings[key]:.2f} s" for key, label in names if timings.get(key) is not None]
    return " · ".join(parts)


def abstention_markdown(response: AskResponse) -> str:
    """The body of the 'not found' state: the service's message and why it abstained."""
    lines = [f"**{NOT_FOUND_TITLE}.** {response.answer.strip() or 'The documents do not hold the answer.'}"]
    if response.reason:
        lines.append(f"Reason: {response.reason}")
    return "\n\n".join(lines)


def parse_tags(text: str) -> list[str] | None:
    """Comma-separated tags from a text box (None when empty)."""
    tags = [t.strip() for t in text.split(",") if t.strip()]
    return tags or None
