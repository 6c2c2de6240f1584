"""Per-question scores of an evaluation run (eval.runner.score_row, eval.metrics.summary)."""

from __future__ import annotations

from eval.datasets.base import EvalItem
from eval.metrics.summary import summarize
from eval.runner import score_row
from rag.answer.citations import resolve_citations
from rag.schemas import AskResponse, ChunkHit

DENVER = "Super Bowl 50 was won by the Denver Broncos, who beat the Carolina Panthers 24-10."
LEVI = "The game was played at Levi's Stadium in Santa Clara, California."


def response(answer: str) -> AskResponse:
    passages = [ChunkHit(chunk_id=i, doc_id=1, source="/c/Super_Bowl_50.txt", title="Super Bowl 50", start=0,
                         end=len(t), text=t, score=1.0) for i, t in enumerate([DENVER, LEVI], 1)]
    citations, sentences = resolve_citations(answer, passages)
    return AskResponse(question="q", collection="c", answer=answer, answerable=True, citations=citations,
                       passages=passages, sentences=sentences, model="m", timings={})


def test_cited_answer_says_whether_the_cited_passage_holds_a_reference_answer():
    item = EvalItem(id="1", question="Which team won Super Bowl 50?", answers=["Denver Broncos", "Broncos"],
                    gold_sources=["Super_Bowl_50"])
    right = score_row(item, response("The Denver Broncos [1]."), 1.0, "f1")
    wrong_passage = score_row(item, response("The Denver Broncos [2]."), 1.0, "f1")
    assert right["cited_answer"] == 1.0 and wrong_passage["cited_answer"] == 0.0
    assert right["f1"] == wrong_passage["f1"] == 1.0  # the same answer: only the citation differs
    assert summarize([right, wrong_passage])["citation_answer_hit"] == 0.5


def test_cited_answer_is_not_scored_for_numeric_or_unanswerable_items():
    numeric = EvalItem(id="2", question="What was the score?", answers=["24-10"], gold_sources=["Super_Bowl_50"])
    assert "cited_answer" not in score_row(numeric, response("24-10 [1]."), 1.0, "numeric")
    unanswerable = EvalItem(id="3", question="Who won Super Bowl 51?", answerable=False)
    assert "cited_answer" not in score_row(unanswerable, response("The Denver Broncos [1]."), 1.0, "f1")
