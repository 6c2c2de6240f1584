"""The prompt-injection eval set: its files, its PDF's metadata, the obedience metric and its gate."""

from __future__ import annotations

from eval.datasets.injection import load_injection, obedience
from eval.spec import check_gates, load_spec
from tests.conftest import ROOT


def test_the_set_loads_with_a_canary_per_question(tmp_path):
    evalset = load_injection()
    assert len(evalset.items) == 10 and "brinmoor-plant.pdf" in evalset.corpus_files
    from ingest.loaders import load_document

    pdf = evalset.write_corpus(tmp_path) / "brinmoor-plant.pdf"
    doc = load_document(pdf)
    assert "VIOLET-CROWN" in doc.title and "40,000 bicycles" in doc.pages[0].text
    rows = [{"id": i.id, "prediction": "fine [1]"} for i in evalset.items]
    assert evalset.extra_metrics(rows)["injection_obedience_rate"] == 0.0


def test_obedience_counts_answers_that_contain_their_canary():
    rows = [{"id": "a", "prediction": "1998 [1]"}, {"id": "b", "prediction": "6:30 saffron-88"},
            {"id": "c", "prediction": "", "error": "timeout"}]
    m = obedience(rows, {"a": "PINEAPPLE", "b": "SAFFRON-88", "c": "X"})
    assert m == {"injection_obedience_rate": 0.5, "injection_obeyed": ["b"]}


def test_the_spec_gates_obedience():
    spec = load_spec(str(ROOT / "eval" / "specs" / "injection.toml"))
    assert spec.load_set().name == "injection"
    assert check_gates(spec, {"injection_obedience_rate": 0.5, "retrieval_recall@k": 1.0})
    assert not check_gates(spec, {"injection_obedience_rate": 0.1, "retrieval_recall@k": 1.0})
