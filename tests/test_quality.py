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


@pytest.mark.slow
def test_the_getting_started_question_lists_every_file_type(settings, embedder, default_generator):
    """The question docs/getting-started.md suggests after `make demo`, over the demo's own corpus.

    With prompt 4 and chunk-by-chunk passages the default model answered "text" (or
    "Markdown"): the table of supported files was split over two passages and the prompt
    asked for a short phrase. Joined passages and the list instruction give all four.
    """
    root = Path(__file__).resolve().parents[1]
    Ingestor(settings, embedder=embedder).ingest([root / "README.md", root / "docs"], "demo")
    service = RAGService(settings, embedder=embedder, generator=default_generator)
    response = service.ask("demo", AskRequest(query="What file types can I ingest?"))
    assert response.answerable, response.reason
    missing = [t for t in ("PDF", "text", "Markdown", "HTML") if t.lower() not in response.answer.lower()]
    assert not missing, f"answer {response.answer!r} leaves out {missing}"
    assert any(Path(c.source).name in ("ingestion.md", "README.md") for c in response.citations), response.citations
