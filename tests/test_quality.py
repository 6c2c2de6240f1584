"""Answer quality on real data: pages of FinanceBench evidence, negative rejection on RGB.

Retrieval checks use the real MiniLM encoder; the abstention check uses the default
answer model (Qwen2.5 1.5B via llama.cpp) and is marked slow. The bounds sit below the
measured figures (given in each test) with a margin: they catch regressions, not noise.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from eval.datasets.financebench import load_financebench
from eval.datasets.rgb import load_rgb
from ingest.pipeline import Ingestor
from rag.pipeline import RAGService
from rag.schemas import AskRequest, RetrieveRequest
from tests.conftest import dataset

FILINGS = ["JOHNSON_JOHNSON_2023_8K_dated-2023-08-30", "ULTABEAUTY_2023Q4_EARNINGS",
           "FOOTLOCKER_2022_8K_dated_2022-08-19", "PEPSICO_2023_8K_dated-2023-05-05",
           "AMCOR_2023Q4_EARNINGS", "AMCOR_2022_8K_dated-2022-07-01"]


@pytest.mark.slow
def test_financebench_evidence_pages_are_retrieved(settings, embedder, tmp_path):
    """12 questions over 6 filings; measured: the gold page is in the top 5 for 10 (hybrid), 9 (BM25), 9 (dense)."""
    evalset = load_financebench(dataset("financebench"), docs=FILINGS)
    assert len(evalset.items) == 12
    Ingestor(settings, embedder=embedder).ingest([evalset.write_corpus(tmp_path / "filings")], "fb")
    service = RAGService(settings, embedder=embedder)
    found = 0
    for item in evalset.items:
        hits = service.retrieve("fb", RetrieveRequest(query=item.question, k=5)).hits
        found += any(Path(h.source).stem in item.gold_sources and h.page in item.gold_pages for h in hits)
    assert found >= 8, f"gold page retrieved for only {found}/12 questions"


@pytest.mark.slow
def test_rgb_negative_passages_lead_to_abstention(settings, embedder, default_generator, tmp_path):
    """Only passages that do not answer are ingested: the right output is an abstention.

    Measured with the default model on these 10 questions (2026-11-30): with prompt 4 and
    threshold 0.5, 5 abstained (four on the answerable score, one on missing evidence);
    with prompt 5 at 0.5 only 3, at the default 0.55 at least 4. The bound is the
    measurement: one question fewer fails.
    """
    evalset = load_rgb(dataset("rgb", "en_fact_0-49.jsonl"), negative_only=True, limit=10)
    Ingestor(settings, embedder=embedder).ingest([evalset.write_corpus(tmp_path / "rgb")], "rgb")
    service = RAGService(settings, embedder=embedder, generator=default_generator)
    responses = [service.ask("rgb", AskRequest(query=i.question, max_tokens=64)) for i in evalset.items]
    abstained = [r for r in responses if not r.answerable]
    assert len(abstained) >= 4, f"abstained on only {len(abstained)} of 10 questions the passages cannot answer"


#: A small product manual, fixed here so that editing the project's own docs cannot change
#: the test: the table of supported files sits under its heading in one document (two
#: chunks at the default size), and another document mentions one of the types in passing.
MANUAL = {
    "importing.md": """# Importing records

```bash
vaultctl import PATH... --shelf NAME [--replace] [--label LABEL]... [--json]
```

`PATH` can be files or folders; folders are walked recursively, skipping hidden files
and files of unknown types. A file you name explicitly is always tried, so an unknown
or missing one is reported with its reason.

## Accepted formats

| format | suffixes | what is kept |
|---|---|---|
| spreadsheet | `.xlsx`, `.ods` | every sheet, one record per row, with the sheet name |
| email | `.eml`, `.msg` | sender, recipients, subject, the plain-text body and the attachment names |
| e-book | `.epub` | the text of each chapter, with its chapter number (for references) |
| image | `.png`, `.jpg`, `.tiff` | the text found by OCR, with the position of each line |

Every record keeps its source path, title, size, modification time and the sha256 of
its bytes.

## What happens

1. **Read**: each file is opened once and parsed in a separate process with a time limit.
2. **Split**: records are cut into pieces of at most 300 words, with 40 words of overlap.
3. **Index**: pieces are indexed in batches; a file counts as imported once its batch
   has been committed.

## Errors

| message | meaning |
|---|---|
| `unknown format '.docx' (accepted: ...)` | not one of the formats above |
| `file not found`, `permission denied` | the file cannot be read |
""",
    "quickstart.md": """# Quick start

Install the tool, then create your first shelf:

```bash
vaultctl shelves create mail
vaultctl import ~/Mail/archive.eml --shelf mail
vaultctl find "quarterly budget" --shelf mail
```

`vaultctl shelves list` shows what you have; `vaultctl records list -s mail` shows the
records of one shelf.

## Where things are stored

Everything lives under `VAULT_HOME` (by default `~/.vault`). Each shelf is one folder
holding its records and its index.
""",
    "security.md": """# Security

Files are parsed in a separate process with a memory and time limit, so a malformed
spreadsheet or a hostile e-book cannot take the service down. Access tokens are stored
hashed, and every import is recorded in an audit log with the user who started it.
""",
}
FORMATS = ("spreadsheet", "email", "e-book", "image")


@pytest.mark.slow
def test_a_question_about_a_list_gets_every_item(settings, embedder, default_generator, tmp_path):
    """A question whose answer is a four-row table, asked three ways.

    Before joined passages and prompt 5, the default model answered questions like these
    with one item ("text" for our own getting-started question). Measured on 2026-11-30:
    3 of 3 phrasings list all four formats and cite importing.md; with RAG_JOIN_PASSAGES=0
    only 1 of 3 (the other two quote the sentence under the table). The bound allows one
    phrasing to miss an item.
    """
    for name, text in MANUAL.items():
        (tmp_path / name).write_text(text)
    Ingestor(settings, embedder=embedder).ingest([tmp_path], "manual")
    service = RAGService(settings, embedder=embedder, generator=default_generator)
    complete, answers = 0, []
    for question in ("What file formats can I import?", "Which kinds of files are accepted?",
                     "What types of files can vaultctl read?"):
        response = service.ask("manual", AskRequest(query=question))
        answers.append(response.answer if response.answerable else response.reason)
        if not response.answerable:
            continue
        listed = all(f.lower() in response.answer.lower() for f in FORMATS)
        cites_table = any(Path(c.source).name == "importing.md" for c in response.citations)
        complete += listed and cites_table
    assert complete >= 2, f"only {complete} of 3 answers list every format from the table: {answers}"
