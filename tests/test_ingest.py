"""The ingestion pipeline end to end with the real encoder, FAISS and SQLite."""

from __future__ import annotations

import json
import os
import shutil
import time

import pytest

from ingest.loaders import load_document
from ingest.pipeline import Ingestor
from rag.store import CollectionManager
from tests.conftest import dataset


@pytest.fixture
def ingestor(settings, embedder):
    return Ingestor(settings, embedder=embedder)


@pytest.fixture
def corpus(tmp_path):
    """A small folder of mixed documents, including a real 10-K excerpt PDF."""
    folder = tmp_path / "docs"
    (folder / "sub").mkdir(parents=True)
    (folder / "notes.txt").write_text("The warehouse in Lyon stores spare turbine blades.\nIt opened in 2019.\n")
    (folder / "guide.md").write_text("# Guide\n\nTo reset the router, hold the red button for ten seconds.\n")
    (folder / "sub" / "page.html").write_text(
        "<html><head><title>Menu</title><script>var x=1;</script></head><body><nav>Home | About</nav>"
        "<main><h1>Lunch menu</h1><p>On Fridays the canteen serves grilled salmon with rice.</p></main></body></html>"
    )
    shutil.copy(dataset("financebench", "pdfs", "PEPSICO_2023_8K_dated-2023-05-05.pdf"), folder / "pepsico 8-K.pdf")
    (folder / ".hidden.txt").write_text("never ingested")
    (folder / "image.png").write_bytes(b"\x89PNG not supported, skipped in folders")
    return folder


def test_ingest_search_and_citable_offsets(ingestor, corpus, settings):
    summary = ingestor.ingest([corpus], "docs")
    assert (summary.ingested, summary.failed, summary.unchanged) == (4, 0, 0)
    assert summary.chunks > 4 and summary.pages >= 4
    assert set(summary.timings) == {"parse", "chunk", "embed", "store"}

    from rag.pipeline import RAGService
    from rag.schemas import RetrieveRequest

    svc = RAGService(settings, embedder=ingestor.embedder)
    ask = "What does the canteen serve on Friday?"
    hit = svc.retrieve("docs", RetrieveRequest(query=ask, k=1, mode="dense")).hits[0]
    assert hit.source.endswith("page.html") and "salmon" in hit.text and "var x" not in hit.text
    hit = svc.retrieve("docs", RetrieveRequest(query="How do I reset the router?", k=1, mode="dense")).hits[0]
    assert hit.title == "Guide" and hit.page is None

    # Every stored chunk quotes its page of the source exactly.
    pdf = corpus / "pepsico 8-K.pdf"
    pages = {p.number: p.text for p in load_document(pdf).pages}
    with CollectionManager(settings).open("docs") as col:
        rows = col.connection.execute(
            'SELECT c.page, c.start, c."end", c.text FROM chunks c JOIN documents d USING(doc_id) WHERE d.source = ?',
            (str(pdf),),
        ).fetchall()
    assert rows and all(pages[r[0]][r[1]:r[2]] == r[3] for r in rows)


def test_incremental_reingest_replace_and_prune(ingestor, corpus, settings):
    ingestor.ingest([corpus], "docs")
    again = ingestor.ingest([corpus], "docs")
    assert (again.unchanged, again.ingested, again.replaced) == (4, 0, 0)

    notes = corpus / "notes.txt"
    notes.write_text("The warehouse in Lyon was closed in 2024; blades moved to Porto.\n")
    os.utime(notes, (time.time() + 5, time.time() + 5))
    (corpus / "guide.md").unlink()
    changed = ingestor.ingest([corpus], "docs", prune=True)
    by_status = {f.status: f for f in changed.files if f.status != "unchanged"}
    assert by_status["replaced"].path == str(notes)
    assert by_status["pruned"].path == str(corpus / "guide.md")

    with CollectionManager(settings).open("docs") as col:
        assert {d.title for d in col.documents()} >= {"notes", "Menu"}
        assert not any(d.source.endswith("guide.md") for d in col.documents())
        texts = [r[0] for r in col.connection.execute("SELECT text FROM chunks")]
        assert any("Porto" in t for t in texts) and not any("opened in 2019" in t for t in texts)
        state = col.index_state()
        assert state["index_ids"] == state["record_ids"]


def test_touched_but_identical_file_is_unchanged(ingestor, corpus):
    ingestor.ingest([corpus], "docs")
    os.utime(corpus / "notes.txt", (time.time() + 10, time.time() + 10))
    assert ingestor.ingest([corpus / "notes.txt"], "docs").unchanged == 1


def test_a_file_that_breaks_keeps_its_previous_version(ingestor, corpus, settings):
    ingestor.ingest([corpus], "docs")
    notes = corpus / "notes.txt"
    notes.write_bytes(b"\x00\x01\x02binary junk\x00" * 50)
    summary = ingestor.ingest([notes], "docs")
    assert summary.failed == 1 and "binary" in summary.files[0].reason
    with CollectionManager(settings).open("docs") as col:
        assert any("Lyon" in r[0] for r in col.connection.execute("SELECT text FROM chunks"))


def test_bad_files_never_crash_a_run(ingestor, tmp_path, settings):
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "empty.txt").write_bytes(b"")
    (bad / "junk.pdf").write_bytes(os.urandom(4096))
    (bad / "Résumé données 2024.txt").write_text("Curriculum vitae: ingénieure, Montréal.", encoding="latin-1")
    (bad / "utf16.txt").write_text("Quarterly sales grew in Québec.", encoding="utf-16")
    (bad / "huge.txt").write_text("x" * 3_000_000)
    small = settings.model_copy(update={"max_file_mb": 1.0})
    robust = dataset("pdf_robustness", "pypdf_sample_files")
    summary = Ingestor(small, embedder=ingestor.embedder).ingest([bad, robust, tmp_path / "missing.md"], "bad")
    reasons = {os.path.basename(f.path): f.reason for f in summary.files if f.status == "failed"}
    assert reasons["empty.txt"] == "file is empty"
    assert "PDF" in reasons["junk.pdf"] or "pdf" in reasons["junk.pdf"]
    assert "limit" in reasons["huge.txt"]
    assert reasons["missing.md"] == "file not found"
    assert "password" in reasons["005-libreoffice-writer-password__libreoffice-writer-password.pdf"]
    assert "Résumé données 2024.txt" not in reasons and "utf16.txt" not in reasons
    assert summary.ingested >= 20
    assert all(r for r in reasons.values())
    with CollectionManager(settings).open("bad") as col:
        state = col.index_state()
        assert state["index_ids"] == state["record_ids"]


def test_summary_json_round_trips(ingestor, corpus):
    from rag.schemas import IngestSummary

    summary = ingestor.ingest([corpus], "docs")
    assert IngestSummary.model_validate(json.loads(summary.model_dump_json())) == summary
