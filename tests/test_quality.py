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

    Measured with the default model: 4 of 4 abstained with the first answer prompt, 1 of 4
    with the current one, which answers SQuAD far better (F1 0.08 -> 0.38) but is more
    willing to answer from related passages. The bound guards against losing abstention
    entirely; the abstention rates that matter are gated in eval/specs/ci.toml.
    """
    evalset = load_rgb(dataset("rgb", "en_fact_0-49.jsonl"), negative_only=True, limit=4)
    Ingestor(settings, embedder=embedder).ingest([evalset.write_corpus(tmp_path / "rgb")], "rgb")
    service = RAGService(settings, embedder=embedder, generator=default_generator)
    abstained = [not service.ask("rgb", AskRequest(query=i.question, max_tokens=64)).answerable for i in evalset.items]
    assert sum(abstained) >= 1, f"answered all 4 questions that the passages cannot answer"
