"""The UI's pure parts: answer/citation HTML (ui.render) and run-folder reading (ui.evalruns)."""

from __future__ import annotations

import json
import pytest

pytest.importorskip("streamlit", reason="install the 'ui' extra")

from rag.schemas import AskResponse, ChunkHit, Citation, SentenceSupport  # noqa: E402
from ui import evalruns, render  # noqa: E402

PAGE_TEXT = "Intro line.\nEmployees get 27 vacation days per year. Unused days expire in March."


def hit(chunk_id=7, start=100, text=PAGE_TEXT, page=3) -> ChunkHit:
    return ChunkHit(chunk_id=chunk_id, doc_id=1, source="/tmp/up/policy.pdf", title="Vacation policy", page=page,
                    start=start, end=start + len(text), text=text, score=0.9)


def cite(quote="Employees get 27 vacation days per year.", start=None, chunk_id=7, marker=1) -> Citation:
    at = PAGE_TEXT.find(quote)
    return Citation(marker=marker, chunk_id=chunk_id, doc_id=1, source="/tmp/up/policy.pdf", title="Vacation policy",
                    page=3, start=100 + at if start is None else start, end=100 + at + len(quote), quote=quote)


def response(**kw) -> AskResponse:
    base = dict(question="q", collection="c", answer="You get 27 days [1].", answerable=True,
                citations=[cite()], passages=[hit()])
    base.update(kw)
    return AskResponse(**base)


def test_quote_is_highlighted_inside_its_passage():
    html = render.citation_html(cite(), [hit()])
    assert "<mark>Employees get 27 vacation days per year.</mark>" in html
    assert "Intro line.<br>" in html and "Unused days expire in March." in html


def test_quote_found_by_text_when_offsets_disagree():
    span = render.quote_span(hit(), cite(start=5))
    assert span is not None and PAGE_TEXT[span[0]:span[1]] == "Employees get 27 vacation days per year."


def test_quote_missing_from_passage_is_shown_alone():
    html = render.citation_html(cite(quote="Something else entirely."), [hit()])
    assert html.count("<mark>") == 1 and "Something else entirely." in html
    assert render.citation_html(cite(chunk_id=99), [hit()]).count("<mark>") == 1


def test_document_text_is_escaped():
    evil = "<script>alert(1)</script> *bold* $x$"
    html = render.citation_html(cite(quote="<script>"), [hit(text=evil)])
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "*" not in html and "$" not in html  # kept literal, not Markdown or LaTeX


def test_answer_markers_become_badges():
    html = render.answer_html(response(answer="Yes [1]. And no [1, 2]."))
    assert '<sup class="rag-cite">[1]</sup>' in html and '<sup class="rag-cite">[1, 2]</sup>' in html
    assert render.markers("a [2] b [1; 2] c [3]") == [2, 1, 3]


def test_unsupported_sentences_are_marked_and_text_kept():
    answer = "You get 27 days [1]. Days never expire."
    r = response(answer=answer, sentences=[
        SentenceSupport(text="You get 27 days [1].", markers=[1], support=0.93, supported=True),
        SentenceSupport(text="Days never expire.", markers=[], support=0.08, supported=False),
    ], groundedness=0.5)
    html = render.answer_html(r)
    assert html.count('class="rag-unsupported"') == 1
    assert 'class="rag-unsupported" title="Not supported by the passages (support 0.08)">Days never expire.' in html
    assert "rag-supported-icon" in html
    assert render.support_summary(r) == "1 of 2 sentences supported by the passages · groundedness 50%"


def test_support_score_alone_decides_with_threshold():
    s = SentenceSupport(text="x", support=0.2)
    assert render.is_unsupported(s) and not render.is_unsupported(SentenceSupport(text="x", support=0.8))
    assert not render.is_unsupported(SentenceSupport(text="x"))


def test_unjudged_answer_is_plain():
    r = response(sentences=[SentenceSupport(text="You get 27 days [1].", markers=[1])])
    assert "rag-unsupported" not in render.answer_html(r) and render.support_summary(r) is None


def test_labels_timings_abstention_and_tags():
    assert render.citation_label(cite()) == "[1] Vacation policy — p. 3"
    assert "policy.pdf" in render.source_line(cite()) and "/tmp/up" not in render.source_line(cite())
    assert render.timings_text({"retrieve": 0.1234, "generate": 2.0, "total": 2.2}) == \
        "retrieval 0.12 s · generation 2.00 s · total 2.20 s"
    r = response(answer="I could not find the answer in your documents.", answerable=False,
                 reason="no passage is relevant enough", citations=[])
    text = render.abstention_markdown(r)
    assert text.startswith("**Not found in your documents.**") and "no passage is relevant enough" in text
    assert render.parse_tags(" a, ,b ") == ["a", "b"] and render.parse_tags("  ") is None


# --------------------------------------------------------------------------- evaluation runs

def write_run(folder, metrics, rows):
    folder.mkdir(parents=True)
    (folder / "metrics.json").write_text(json.dumps(metrics))
    (folder / "results.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n{broken\n")
    return folder


ROWS = [
    {"id": "1", "question": "q1", "kind": "fact", "answerable": True, "answers": ["a"], "prediction": "a",
     "abstained": False, "f1": 1.0, "em": 1.0, "unsupported_share": 0.0, "seconds": 1.0},
    {"id": "2", "question": "q2", "kind": "fact", "answerable": True, "answers": ["b"], "prediction": "c",
     "abstained": False, "f1": 0.2, "em": 0.0, "unsupported_share": 0.5, "seconds": 2.0},
    {"id": "3", "question": "q3", "kind": "none", "answerable": False, "answers": [], "prediction": "",
     "abstained": True, "reason": "not found", "seconds": 0.5},
    {"id": "4", "question": "q4", "kind": "none", "answerable": False, "answers": [], "prediction": "x",
     "abstained": False, "seconds": 0.5},
]
METRICS = {"questions": 4, "answer_f1": 0.6, "hallucination_rate": 0.25, "seconds_per_question": 1.0,
           "by_kind": {"fact": {"answer_f1": 0.6, "questions": 2}, "none": {"answer_f1": None, "questions": 2}},
           "spec": {"name": "t", "k": 5}, "gate_failures": []}


def test_runs_are_found_read_and_filtered(tmp_path):
    a = write_run(tmp_path / "run-a", METRICS, ROWS)
    (tmp_path / "not-a-run").mkdir()
    assert evalruns.find_runs(tmp_path) == [a]
    assert evalruns.find_runs(a) == [a] and evalruns.find_runs(tmp_path / "missing") == []
    run = evalruns.load_run(a)
    assert len(run.rows) == 4 and run.bad_lines == 1
    assert [r["id"] for r in evalruns.filter_rows(run.rows, "wrong")] == ["2", "4"]
    assert [r["id"] for r in evalruns.filter_rows(run.rows, "abstained")] == ["3"]
    assert [r["id"] for r in evalruns.filter_rows(run.rows, "unsupported")] == ["2"]
    assert evalruns.by_kind(run.metrics, "answer_f1") == {"fact": 0.6}
    assert evalruns.kind_metric_names(run.metrics) == ["answer_f1"]
    hist = evalruns.f1_histogram(run.rows)
    assert hist["questions"][9] == 1 and hist["questions"][2] == 1 and sum(hist["questions"]) == 2
    table = evalruns.table(run.rows)
    assert table[0]["expected"] == "a" and table[2]["reason"] == "not found"


def test_unreadable_metrics_raise_value_error(tmp_path):
    (tmp_path / "r").mkdir()
    (tmp_path / "r" / "metrics.json").write_text("[1, 2]")
    with pytest.raises(ValueError):
        evalruns.load_run(tmp_path / "r")
    with pytest.raises(ValueError):
        evalruns.load_run(tmp_path / "absent")


def test_compare_gives_deltas_with_direction(tmp_path):
    a = evalruns.load_run(write_run(tmp_path / "a", METRICS, ROWS))
    better_rows = [dict(r, f1=0.9, prediction="b") if r["id"] == "2" else r for r in ROWS]
    b = evalruns.load_run(write_run(tmp_path / "b", {**METRICS, "answer_f1": 0.8, "hallucination_rate": 0.5},
                                    better_rows))
    by_name = {d["metric"]: d for d in evalruns.compare(a, b)}
    assert by_name["answer_f1"]["delta"] == pytest.approx(0.2) and by_name["answer_f1"]["verdict"] == "better"
    assert by_name["hallucination_rate"]["verdict"] == "worse"
    assert by_name["questions"]["verdict"] == "" and "by_kind" not in by_name
    assert evalruns.changed_questions(a, b) == {"shared": 4, "fixed": 1, "broken": 0}

