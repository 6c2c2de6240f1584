"""Document loaders against real files: odd PDFs, SEC filings, messy text and HTML."""

from __future__ import annotations

import codecs
import json
import os
import re
import sys
import unicodedata
from pathlib import Path

import pytest

from ingest.loaders import SUPPORTED_SUFFIXES, LoadedDocument, is_supported, load_document
from rag.errors import LoadError

REPO = Path(__file__).resolve().parents[1]
DATASETS = REPO.parent / "shared" / "datasets"
ROBUSTNESS = DATASETS / "pdf_robustness" / "pypdf_sample_files"
FINANCEBENCH = DATASETS / "financebench"
CRAG = DATASETS / "crag_sample" / "crag_examples.jsonl"


def _need(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"dataset not found at {path} (clone shared/ beside the repository)")
    return path


def _robustness_files() -> list[Path]:
    return sorted(ROBUSTNESS.glob("*.pdf")) if ROBUSTNESS.is_dir() else []


def _comparable(text: str) -> str:
    """Text with whitespace removed and non-ASCII dropped.

    FinanceBench's evidence was extracted with curly quotes and dashes stripped
    ("Companys"), so only ASCII letters, digits and punctuation are compared.
    """
    text = unicodedata.normalize("NFKC", text)
    return re.sub(r"\s+", "", text).encode("ascii", "ignore").decode()


# --- the 29 odd PDFs of py-pdf/sample-files ---------------------------------------------


@pytest.mark.parametrize("pdf", _robustness_files(), ids=lambda p: p.stem[:40])
def test_robustness_pdf_loads_or_gives_a_reason(pdf: Path) -> None:
    try:
        document = load_document(pdf)
    except LoadError as exc:
        assert exc.message and "\n" not in exc.message and len(exc.message) < 200
        return
    assert document.kind == "pdf"
    assert [p.number for p in document.pages] == list(range(1, len(document.pages) + 1))
    assert any(p.text.strip() for p in document.pages)


def test_robustness_folder_holds_the_listed_files() -> None:
    listed = json.loads((_need(ROBUSTNESS) / "files.json").read_text())["data"]
    names = {entry["path"].replace("/", "__") for entry in listed}
    # files.json also lists 009-pdflatex-geotopo (a large file the copy leaves out).
    assert len(names & {p.name for p in _robustness_files()}) >= 25


def test_robustness_page_counts_match_files_json() -> None:
    listed = json.loads((_need(ROBUSTNESS) / "files.json").read_text())["data"]
    checked = 0
    for entry in listed:
        path = ROBUSTNESS / entry["path"].replace("/", "__")
        if not path.exists():
            continue
        try:
            document = load_document(path)
        except LoadError:
            continue
        assert len(document.pages) == entry["pages"], entry["path"]
        checked += 1
    assert checked >= 20


def test_password_protected_pdf() -> None:
    pdf = _need(ROBUSTNESS / "005-libreoffice-writer-password__libreoffice-writer-password.pdf")
    with pytest.raises(LoadError, match="password-protected PDF"):
        load_document(pdf)


def test_pdf_with_unreadable_structure() -> None:
    pdf = _need(ROBUSTNESS / "017-unreadable-meta-data__unreadablemetadata.pdf")
    with pytest.raises(LoadError, match=r"^corrupt or unreadable PDF: .*/Pages"):
        load_document(pdf)


@pytest.mark.parametrize(
    "name",
    [
        "007-imagemagick-images__imagemagick-ASCII85Decode.pdf",
        "007-imagemagick-images__imagemagick-CCITTFaxDecode.pdf",
        "007-imagemagick-images__imagemagick-images.pdf",  # a hidden "Background" label only
        "007-imagemagick-images__imagemagick-lzw.pdf",
        "019-grayscale-image__grayscale-image.pdf",
    ],
)
def test_image_only_pdf_has_no_text_layer(name: str) -> None:
    with pytest.raises(LoadError, match=r"^no text layer: .*OCR is not supported"):
        load_document(_need(ROBUSTNESS / name))


def test_short_pdf_with_an_inline_image_still_loads() -> None:
    document = load_document(_need(ROBUSTNESS / "008-reportlab-inline-image__inline-image.pdf"))
    assert document.pages[0].text.strip() == "Test"


def test_pdf_title_from_metadata_else_stem() -> None:
    titled = load_document(_need(ROBUSTNESS / "011-google-doc-document__google-doc-document.pdf"))
    assert titled.title == "PDF Example Document"
    untitled = load_document(ROBUSTNESS / "001-trivial__minimal-document.pdf")
    assert untitled.title == "001-trivial__minimal-document"


# --- FinanceBench SEC filings --------------------------------------------------------------


def _questions(doc_name: str) -> list[dict]:
    lines = (_need(FINANCEBENCH / "questions.jsonl")).read_text().splitlines()
    return [q for q in map(json.loads, filter(None, lines)) if q["doc_name"] == doc_name]


def _assert_evidence_on_page(document: LoadedDocument, doc_name: str) -> int:
    checked = 0
    for question in _questions(doc_name):
        for evidence in question["evidence"]:
            page = document.pages[evidence["evidence_page_num"]]  # 0-based in FinanceBench
            assert page.number == evidence["evidence_page_num"] + 1
            assert _comparable(evidence["evidence_text"]) in _comparable(page.text), (
                f"{doc_name}: evidence not found on page {page.number}"
            )
            checked += 1
    return checked


def test_financebench_pdf_pages_and_evidence() -> None:
    pdf = _need(FINANCEBENCH / "pdfs" / "PEPSICO_2023_8K_dated-2023-05-05.pdf")
    document = load_document(pdf)
    assert document.kind == "pdf"
    assert len(document.pages) == 5
    assert document.metadata["page_count"] == "5"
    assert document.title == "Form 8-K for Pepsico INC filed 05/05/2023"
    assert _assert_evidence_on_page(document, "PEPSICO_2023_8K_dated-2023-05-05") >= 1


@pytest.mark.slow
def test_aes_encrypted_10k_opens_with_the_empty_password() -> None:
    pytest.importorskip("cryptography", reason="AES-encrypted PDFs need 'cryptography'")
    document = load_document(_need(FINANCEBENCH / "pdfs" / "ADOBE_2022_10K.pdf"))
    assert len(document.pages) == 99
    assert document.metadata.get("encrypted") == "true"
    assert document.title == "ADBE 10-K FY22"
    assert _assert_evidence_on_page(document, "ADOBE_2022_10K") >= 2


def test_content_hash_and_mtime(tmp_path: Path) -> None:
    path = tmp_path / "note.txt"
    path.write_bytes(b"hello\n")
    os.utime(path, (1_700_000_000, 1_700_000_000))
    document = load_document(path)
    assert document.content_hash == "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03"
    assert document.mtime == 1_700_000_000
    assert document.source == path


# --- files that cannot be read ----------------------------------------------------------------


def _reason(path: Path, **kwargs) -> str:
    with pytest.raises(LoadError) as info:
        load_document(path, **kwargs)
    return info.value.message


def test_missing_file(tmp_path: Path) -> None:
    assert _reason(tmp_path / "nope.pdf") == "file not found"


def test_dangling_symlink(tmp_path: Path) -> None:
    link = tmp_path / "gone.txt"
    link.symlink_to(tmp_path / "deleted.txt")
    assert _reason(link).startswith("file not found")


def test_directory(tmp_path: Path) -> None:
    folder = tmp_path / "looks-like.pdf"
    folder.mkdir()
    assert _reason(folder) == "is a directory"


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_named_pipe_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.txt"
    os.mkfifo(fifo)
    assert _reason(fifo) == "not a regular file"


@pytest.mark.skipif(
    sys.platform == "win32" or os.geteuid() == 0, reason="root reads files whatever their mode"
)
def test_unreadable_file(tmp_path: Path) -> None:
    path = tmp_path / "secret.txt"
    path.write_text("hidden")
    path.chmod(0)
    try:
        assert _reason(path) == "permission denied: cannot read file"
    finally:
        path.chmod(0o600)


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.pdf"
    path.touch()
    assert _reason(path) == "file is empty"


def test_whitespace_only_text(tmp_path: Path) -> None:
    path = tmp_path / "blank.txt"
    path.write_text(" \n\t\n")
    assert _reason(path) == "no text found in the file"


def test_binary_junk_named_pdf(tmp_path: Path) -> None:
    path = tmp_path / "junk.pdf"
    path.write_bytes(os.urandom(4096))
    assert _reason(path).startswith("corrupt or unreadable PDF:")


def test_truncated_pdf(tmp_path: Path) -> None:
    data = _need(ROBUSTNESS / "004-pdflatex-4-pages__pdflatex-4-pages.pdf").read_bytes()
    path = tmp_path / "truncated.pdf"
    path.write_bytes(data[: len(data) // 3])
    try:
        document = load_document(path)  # pypdf may recover part of it; that is fine
    except LoadError as exc:
        assert exc.message
    else:
        assert document.pages


@pytest.mark.parametrize("junk", [bytes(range(256)) * 16, b"\x89PNG\r\n\x1a\n" + bytes(500)])
def test_binary_junk_named_txt(tmp_path: Path, junk: bytes) -> None:
    path = tmp_path / "junk.txt"
    path.write_bytes(junk)
    assert _reason(path) == "not a text file: content looks binary"


def test_file_over_the_size_limit(tmp_path: Path) -> None:
    path = tmp_path / "big.txt"
    path.write_text("x" * 2000)
    assert _reason(path, max_bytes=1024) == "file is 2.0 KB, larger than the 1 KB limit"
    assert load_document(path, max_bytes=2000).pages[0].text == "x" * 2000


def test_size_message_in_megabytes(tmp_path: Path) -> None:
    path = tmp_path / "sparse.txt"
    with path.open("wb") as handle:  # a sparse file: no disk space used
        handle.truncate(600 * 1024 * 1024)
    assert _reason(path, max_bytes=512 * 1024 * 1024) == (
        "file is 600.0 MB, larger than the 512 MB limit"
    )


def test_unknown_suffix(tmp_path: Path) -> None:
    path = tmp_path / "data.xyz"
    path.write_text("hello")
    reason = _reason(path)
    assert reason.startswith("unsupported file type '.xyz' (supported: .pdf, .txt")
    assert not is_supported(path)
    assert is_supported(Path("REPORT.PDF")) and ".md" in SUPPORTED_SUFFIXES


def test_unexpected_parser_error_becomes_a_load_error(tmp_path: Path) -> None:
    # An HTML page nested far deeper than any parser expects.
    path = tmp_path / "deep.html"
    path.write_bytes(b"<div>" * 20_000 + b"deep text" + b"</div>" * 20_000)
    try:
        document = load_document(path)
    except LoadError as exc:
        assert exc.message
    else:
        assert "deep text" in document.pages[0].text


# --- text in any encoding -----------------------------------------------------------------------

CAFE = "Café déjà vu: naïve façade, €5 — “quoted”.\nSecond line ½.\n"


@pytest.mark.parametrize(
    ("encoding", "text"),
    [
        ("utf-8", CAFE),
        ("utf-8-sig", CAFE),
        ("utf-16", CAFE),  # Python writes a BOM
        ("cp1252", CAFE),
        ("latin-1", "Le cœur a ses raisons\nque la raison ne connaît point.\n".replace("œ", "oe")),
    ],
)
def test_text_in_other_encodings(tmp_path: Path, encoding: str, text: str) -> None:
    path = tmp_path / f"{encoding}.txt"
    path.write_bytes((text * 20).encode(encoding))
    document = load_document(path)
    assert document.kind == "text"
    assert document.pages == [document.pages[0]] and document.pages[0].number is None
    assert document.pages[0].text == text * 20


def test_windows_and_old_mac_newlines(tmp_path: Path) -> None:
    path = tmp_path / "lines.log"
    path.write_bytes(b"one\r\ntwo\rthree\n")
    assert load_document(path).pages[0].text == "one\ntwo\nthree\n"


def test_utf16_little_endian_bom(tmp_path: Path) -> None:
    path = tmp_path / "wide.csv"
    path.write_bytes(codecs.BOM_UTF16_LE + "a,b\r\n1,2\r\n".encode("utf-16-le"))
    assert load_document(path).pages[0].text == "a,b\n1,2\n"


def test_name_with_spaces_and_accents(tmp_path: Path) -> None:
    path = tmp_path / "Résumé données 2024.txt"
    path.write_text("Données du résumé.\n", encoding="utf-8")
    document = load_document(path)
    assert document.title == "Résumé données 2024"
    assert document.source == path
    assert document.metadata["encoding"] == "utf-8"


@pytest.mark.parametrize("name, text, title", [
    ("paper.txt", "Vitamin D and bone density\n\nWe measured 40 patients.\n", "Vitamin D and bone density"),
    ("paper.txt", "\nLeading blank line, then a title\n\nBody.\n", "Leading blank line, then a title"),
    ("notes.txt", "A first line that runs on\ninto a second one.\n\nMore.\n", "notes"),  # a paragraph, not a title
    ("notes.txt", "Only one line, nothing after it\n", "notes"),
    ("notes.txt", ("x" * 151) + "\n\nBody.\n", "notes"),  # too long for a title
    ("guide.rst", "Install guide\n=============\n\nRun it.\n", "Install guide"),
    ("guide.rst", "Install guide\nRun it.\n\nMore.\n", "guide"),
    ("table.csv", "name,value\n\na,1\n", "table"),
])
def test_text_title_is_its_own_first_line_when_it_stands_alone(tmp_path: Path, name, text, title) -> None:
    path = tmp_path / name
    path.write_text(text)
    document = load_document(path)
    assert document.title == title
    assert document.pages[0].text == text  # the title stays in the text: offsets are unchanged


# --- Markdown -------------------------------------------------------------------------------------


def test_markdown_title_from_heading(tmp_path: Path) -> None:
    path = tmp_path / "guide.md"
    path.write_text("```\n# not a heading\n```\n\n# Install guide\n\nRun `pip install`.\n")
    document = load_document(path)
    assert document.kind == "markdown"
    assert document.title == "Install guide"
    assert "Run `pip install`." in document.pages[0].text


def test_markdown_front_matter(tmp_path: Path) -> None:
    path = tmp_path / "post.markdown"
    path.write_text("---\ntitle: 'Release notes'\ndate: 2024-01-01\n---\n# Version 2\n\nFaster.\n")
    document = load_document(path)
    assert document.title == "Release notes"
    assert document.pages[0].text == "# Version 2\n\nFaster.\n"


def test_markdown_without_heading_uses_stem(tmp_path: Path) -> None:
    path = tmp_path / "notes.md"
    path.write_text("Just some notes.\n")
    assert load_document(path).title == "notes"


# --- HTML ----------------------------------------------------------------------------------------

PAGE = """<!DOCTYPE html>
<html><head><meta charset="windows-1252"><title>Sch\xf6ne Seite</title>
<style>body { color: red }</style><script>var tracking = "SECRET";</script></head>
<body>
<header><a href="/">Home</a> <a href="/about">About</a></header>
<nav><ul><li><a href="/a">Menu A</a></li><li><a href="/b">Menu B</a></li></ul></nav>
<div role="navigation">Skip links</div>
<div class="cookie-banner">We use cookies</div>
<main>
  <h1>Caf\xe9 opening hours</h1>
  <p>We are open   every day
     from <b>8 am</b> to 6 pm.</p>
  <ul><li>Espresso</li><li>Cappuccino</li></ul>
  <table><tr><th>Day</th><th>Hours</th></tr><tr><td>Sunday</td><td>closed</td></tr></table>
  <p>Second<br>line</p>
  <noscript>Enable JavaScript</noscript>
  <!-- a comment -->
</main>
<aside>Related posts</aside>
<footer>Copyright 2024</footer>
<script>console.log("more js")</script>
</body></html>
"""


def test_html_keeps_main_text_and_drops_furniture(tmp_path: Path) -> None:
    path = tmp_path / "page.html"
    path.write_bytes(PAGE.encode("cp1252"))
    document = load_document(path)
    text = document.pages[0].text
    assert document.kind == "html"
    assert document.title == "Schöne Seite"
    assert text.splitlines()[0] == "Café opening hours"
    assert "We are open every day from 8 am to 6 pm." in text
    assert "Espresso\nCappuccino" in text
    assert "Day | Hours\nSunday | closed" in text
    assert "Second\nline" in text
    for junk in ("SECRET", "color", "Menu A", "Home", "Skip links", "cookies", "Related",
                 "Copyright", "JavaScript", "comment", "more js"):  # fmt: skip
        assert junk not in text
    assert "\n\n\n" not in text


def test_html_without_title_uses_h1_and_body(tmp_path: Path) -> None:
    path = tmp_path / "plain.htm"
    path.write_text("<html><body><h1>Heading</h1><p>Body text.</p></body></html>")
    document = load_document(path)
    assert document.title == "Heading"
    assert document.pages[0].text == "Heading\n\nBody text."


def test_html_binary_junk(tmp_path: Path) -> None:
    path = tmp_path / "junk.html"
    path.write_bytes(bytes(range(256)) * 8)
    assert _reason(path) == "not an HTML file: content looks binary"


def test_real_web_pages_read_well(tmp_path: Path) -> None:
    records = [json.loads(line) for line in _need(CRAG).read_text().splitlines() if line]
    pages = [r for record in records for r in record["search_results"] if r.get("page_result")]
    assert pages
    for index, result in enumerate(pages):
        path = tmp_path / f"page{index}.html"
        path.write_text(result["page_result"], encoding="utf-8")
        text = load_document(path).pages[0].text
        assert "function(" not in text and "window." not in text, result["page_url"]
        assert "\n\n\n" not in text
    npr = next(r for r in pages if "npr.org" in r["page_url"])
    path = tmp_path / "npr.html"
    path.write_text(npr["page_result"], encoding="utf-8")
    document = load_document(path)
    assert document.title.startswith("Heaven And Hell Are 'Not What Jesus Preached,'")
    assert "This is FRESH AIR. I'm Terry Gross." in document.pages[0].text
