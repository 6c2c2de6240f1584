"""The two PDF text paths (PDFium fast, pypdf fallback) on the same real filings.

Citations point at a page number and at character offsets into that page's text,
so both paths must put FinanceBench's evidence on its stated page, with the same
page count, and PDFium must really be the path taken for readable files.
"""

from __future__ import annotations

import json
import re
import unicodedata
from pathlib import Path

import pytest

from ingest.chunking import Chunker
from ingest.loaders import load_document, pdfium
from ingest.loaders.pdf import PdfLoader
from rag.errors import LoadError

DATASETS = Path(__file__).resolve().parents[2] / "shared" / "datasets"
FINANCEBENCH = DATASETS / "financebench"
ROBUSTNESS = DATASETS / "pdf_robustness" / "pypdf_sample_files"

pytestmark = pytest.mark.skipif(not pdfium.available(), reason="pypdfium2 is not installed")


def _pdfs() -> list[Path]:
    return sorted((FINANCEBENCH / "pdfs").glob("*.pdf")) if FINANCEBENCH.is_dir() else []


def _comparable(text: str) -> str:
    # FinanceBench's evidence has curly quotes and dashes stripped: compare ASCII only.
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text)).encode("ascii", "ignore").decode()


def _evidence(doc_name: str) -> list[dict]:
    lines = (FINANCEBENCH / "questions.jsonl").read_text().splitlines()
    return [e for q in map(json.loads, filter(None, lines)) if q["doc_name"] == doc_name for e in q["evidence"]]


def _missing_evidence(document, doc_name: str) -> list[int]:
    """0-based pages whose stated evidence is not in that page's text."""
    return [e["evidence_page_num"] for e in _evidence(doc_name)
            if _comparable(e["evidence_text"]) not in _comparable(document.pages[e["evidence_page_num"]].text)]


@pytest.mark.parametrize("pdf", _pdfs(), ids=lambda p: p.stem[:30])
def test_pdfium_puts_financebench_evidence_on_its_page(pdf: Path) -> None:
    data = pdf.read_bytes()
    assert pdfium.read_text(data, min_chars=25) is not None, "PDFium must read the filing itself"
    document = PdfLoader().load(pdf, data)
    assert [p.number for p in document.pages] == list(range(1, len(document.pages) + 1))
    assert _evidence(pdf.stem) and _missing_evidence(document, pdf.stem) == []
    assert not any(c in p.text for p in document.pages for c in "\x00\x02\ufffe\r")


@pytest.mark.slow
@pytest.mark.parametrize("pdf", _pdfs(), ids=lambda p: p.stem[:30])
def test_pypdf_fallback_agrees_on_pages_and_evidence(pdf: Path) -> None:
    data = pdf.read_bytes()
    fast, reference = PdfLoader().load(pdf, data), PdfLoader(fast=False).load(pdf, data)
    assert len(fast.pages) == len(reference.pages)
    assert fast.metadata == reference.metadata  # page_count, encrypted
    assert fast.title == reference.title
    assert _missing_evidence(reference, pdf.stem) == []


def test_chunk_offsets_are_exact_on_pdfium_text(embedder) -> None:
    pdf = FINANCEBENCH / "pdfs" / "JOHNSON_JOHNSON_2023_8K_dated-2023-08-30.pdf"
    if not pdf.exists():
        pytest.skip("FinanceBench not found")
    document = load_document(pdf)
    chunks = Chunker(embedder.count_tokens, 256, 32).split(document)
    assert len(chunks) > 10
    by_number = {p.number: p.text for p in document.pages}
    for chunk in chunks:
        assert by_number[chunk.page][chunk.start:chunk.end] == chunk.text
    # The evidence of page 4 (0-based 3) is cited from chunks of page 4.
    evidence = _comparable(_evidence(pdf.stem)[0]["evidence_text"])[:200]
    assert any(evidence[:60] in _comparable(c.text) for c in chunks if c.page == 4)


def test_files_pdfium_refuses_fall_back_to_pypdf_with_their_reasons() -> None:
    if not ROBUSTNESS.is_dir():
        pytest.skip("pdf_robustness not found")
    password = ROBUSTNESS / "005-libreoffice-writer-password__libreoffice-writer-password.pdf"
    assert pdfium.read_text(password.read_bytes(), min_chars=25) is None
    with pytest.raises(LoadError, match="password-protected PDF"):
        load_document(password)
    # Too little text to be sure: pypdf reads "Test" where PDFium alone would guess.
    inline = load_document(ROBUSTNESS / "008-reportlab-inline-image__inline-image.pdf")
    assert inline.pages[0].text.strip() == "Test"
