"""The UI's pages run headless (streamlit.testing AppTest) against a real ``rag serve``
(MiniLM, SmolLM2, FAISS, SQLite on loopback), and against a service that is down or slow."""

from __future__ import annotations

import json
import socket
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("streamlit", reason="install the 'ui' extra")

from streamlit.testing.v1 import AppTest  # noqa: E402

from rag.client import RAGClient  # noqa: E402
from tests.api_server import free_port, running_server  # noqa: E402
from tests.conftest import ROOT  # noqa: E402

APP = str(ROOT / "ui" / "app.py")
COLLECTION = "handbook"
POLICY = """# Vacation policy

Employees of Zorblatt Industries get 27 vacation days per year.

Unused vacation days expire at the end of March of the following year.
"""
#: Nothing in the policy comes close: the similarity gate abstains before the model runs.
UNRELATED = "What is the boiling point of tungsten on Jupiter?"


def documents_script():
    from ui.views import documents

    documents.page()


def ask_script():
    from ui import render
    from ui.views import ask

    import streamlit as st

    st.markdown(render.css(), unsafe_allow_html=True)
    ask.page()


def evaluation_script():
    from ui.views import evaluation

    evaluation.page()


@pytest.fixture(autouse=True)
def _main_module_restored():
    """AppTest installs each script as ``__main__``, as Streamlit does, and leaves it there.
    A later test in the same pytest worker that spawns a child process (the isolated PDF
    parser) would then re-run that script in the child, which fails there."""
    main = sys.modules["__main__"]
    yield
    sys.modules["__main__"] = main


def errors(at: AppTest) -> list[str]:
    return [e.value for e in at.error]


def markdown(at: AppTest) -> str:
    return "\n".join(m.value for m in at.markdown)


# --------------------------------------------------------------------------- service down or slow

def test_service_down_shows_the_sdk_message_and_retry(monkeypatch):
    monkeypatch.setenv("RAG_UI_API_URL", f"http://127.0.0.1:{free_port()}")  # nothing listens there
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception
    (message,) = errors(at)
    assert "Could not list the collections" in message and "not reachable" in message
    assert "Connection refused" in message or "ConnectError" in message
    retry = next(b for b in at.button if b.label == "Retry")
    retry.click().run()
    assert not at.exception and len(errors(at)) == 1


def test_documents_page_with_service_down(monkeypatch):
    monkeypatch.setenv("RAG_UI_API_URL", f"http://127.0.0.1:{free_port()}")
    at = AppTest.from_function(documents_script, default_timeout=60).run()
    assert not at.exception
    assert any("not reachable" in e for e in errors(at))


def test_slow_service_times_out_with_a_message(monkeypatch):
    with socket.socket() as silent:  # accepts connections, never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        monkeypatch.setenv("RAG_UI_API_URL", f"http://127.0.0.1:{silent.getsockname()[1]}")
        monkeypatch.setenv("RAG_UI_TIMEOUT", "1")
        at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception
    (message,) = errors(at)
    assert "too slow" in message and "did not answer in time" in message


# --------------------------------------------------------------------------- evaluation page (files only)

def _run(folder: Path, f1: float, rows: list[dict]) -> None:
    folder.mkdir(parents=True)
    metrics = {"questions": len(rows), "answer_f1": f1, "answer_em": f1 / 2, "hallucination_rate": 0.1,
               "seconds_per_question": 1.5, "by_kind": {"fact": {"answer_f1": f1}, "numeric": {"answer_f1": f1 / 3}},
               "spec": {"name": folder.name, "dataset": "demo", "k": 5}, "gate_failures": []}
    (folder / "metrics.json").write_text(json.dumps(metrics))
    (folder / "results.jsonl").write_text("\n".join(json.dumps(r) for r in rows))


def test_evaluation_page_shows_metrics_plots_rows_and_comparison(tmp_path, monkeypatch):
    rows = [{"id": str(i), "question": f"q{i}", "kind": "fact", "answerable": i != 3, "answers": ["x"],
             "prediction": "x" if i % 2 else "y", "abstained": i == 3, "f1": float(i % 2) if i != 3 else None,
             "em": float(i % 2), "unsupported_share": 0.5 if i == 2 else 0.0, "seconds": 1.0} for i in range(6)]
    _run(tmp_path / "runs" / "baseline", 0.5, rows)
    time.sleep(0.01)
    _run(tmp_path / "runs" / "candidate", 0.7, rows)
    monkeypatch.setenv("RAG_UI_EVAL_DIR", str(tmp_path / "runs"))
    at = AppTest.from_function(evaluation_script, default_timeout=60).run()
    assert not at.exception, at.exception
    assert at.selectbox(key="eval-run").value.name == "candidate"  # newest first
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Answer F1"] == "0.700" and metrics["Seconds / question"] == "1.500"
    assert any("All quality gates passed" in s.value for s in at.success)
    assert len(at.dataframe) == 2  # questions, comparison
    assert len(at.dataframe[0].value) == 6
    at.segmented_control(key="eval-filter").set_value("abstained").run()
    assert len(at.dataframe[0].value) == 1
    at.segmented_control(key="eval-filter").set_value("unsupported").run()
    assert list(at.dataframe[0].value["id"]) == ["2"]
    comparison = at.dataframe[1].value
    f1 = comparison[comparison["metric"] == "answer_f1"].iloc[0]
    assert f1["delta"] == pytest.approx(-0.2) and f1["verdict"] == "worse"


def test_evaluation_page_without_runs(tmp_path, monkeypatch):
    monkeypatch.setenv("RAG_UI_EVAL_DIR", str(tmp_path / "nothing"))
    at = AppTest.from_function(evaluation_script, default_timeout=60).run()
    assert not at.exception and "No evaluation runs" in at.info[0].value


# --------------------------------------------------------------------------- against a real server

@pytest.fixture(scope="module")
def server(tmp_path_factory, models_home):
    with running_server(tmp_path_factory.mktemp("ui-api"), models_home) as url:
        client = RAGClient(url)
        client.create_collection(COLLECTION)
        policy = tmp_path_factory.mktemp("docs") / "policy.md"
        policy.write_text(POLICY)
        job = client.wait_for_job(client.upload(COLLECTION, [policy]).job_id, timeout=300)
        assert job.state == "succeeded", job
        yield url


@pytest.fixture
def api(server, monkeypatch):
    monkeypatch.setenv("RAG_UI_API_URL", server)
    return RAGClient(server)


@pytest.mark.slow
def test_ask_streams_an_answer_with_sources_and_timings(api):
    at = AppTest.from_function(ask_script, default_timeout=240).run()
    assert not at.exception and not errors(at)
    assert at.selectbox(key="pick-collection-ask").value == COLLECTION
    at.number_input(key="ask-max-tokens").set_value(48)
    at.chat_input[0].set_value("How many vacation days do Zorblatt employees get?").run()
    assert not at.exception and not errors(at), errors(at)
    text = markdown(at)
    assert 'class="rag-answer"' in text and "Timings: retrieval" in text
    assert "How many vacation days" in text  # the question stays in the conversation
    labels = [e.label for e in at.expander if e.label.startswith("[")]
    if labels:  # SmolLM2 does not always cite; when it does, each source shows its highlighted quote
        assert "Vacation policy" in labels[0]
        assert "<mark>" in text and "policy.md" in text
    # The conversation is kept: a second question adds to it.
    at.chat_input[0].set_value(UNRELATED).run()
    assert not at.exception
    assert text.split("How many vacation days")[0] in markdown(at) and "How many vacation days" in markdown(at)
    (warning,) = at.warning
    assert "Not found in your documents" in warning.value and "Reason:" in warning.value


@pytest.mark.slow
def test_ask_page_reports_api_errors_and_retries(api, monkeypatch):
    # A wrong base path: the server answers 404 with its error body; the page shows it, no traceback.
    monkeypatch.setenv("RAG_UI_API_URL", api.root + "/wrong-prefix")
    at = AppTest.from_function(ask_script, default_timeout=60).run()
    assert not at.exception
    (message,) = errors(at)
    assert "Could not list the collections" in message and "no route" in message
    monkeypatch.setenv("RAG_UI_API_URL", api.root)
    next(b for b in at.button if b.label == "Retry").click().run()
    assert not at.exception and not errors(at)
    assert at.selectbox(key="pick-collection-ask").value == COLLECTION


@pytest.mark.slow
def test_documents_page_lists_creates_and_deletes(api):
    at = AppTest.from_function(documents_script, default_timeout=120).run()
    assert not at.exception and not errors(at)
    docs = at.dataframe[-1].value
    assert list(docs["title"]) == ["Vacation policy"] and list(docs["kind"]) == ["markdown"]
    # Create a collection: it becomes the chosen one.
    at.text_input[0].input("scratch")
    at.button[0].click().run()  # the form's submit button
    assert not at.exception and not errors(at), errors(at)
    assert any("Created the collection" in s.value for s in at.success)
    assert at.selectbox(key="pick-collection-documents").value == "scratch"
    assert "scratch" in [c.name for c in api.list_collections()]
    # Deleting needs the confirmation box ticked.
    delete = next(b for b in at.button if b.key == "delete-collection")
    assert delete.disabled
    at.checkbox(key="confirm-delete-scratch").check().run()
    next(b for b in at.button if b.key == "delete-collection").click().run()
    assert not at.exception and not errors(at)
    assert "scratch" not in [c.name for c in api.list_collections()]


@pytest.mark.slow
def test_upload_helpers_send_files_under_their_names_and_follow_the_job(api, tmp_path):
    from ui.views import documents

    class Uploaded:  # what st.file_uploader returns, as far as the page uses it
        def __init__(self, name: str, data: bytes) -> None:
            self.name, self._data = name, data

        def getvalue(self) -> bytes:
            return self._data

    class Bar:
        def __init__(self) -> None:
            self.seen: list[float] = []

        def progress(self, value: float, text: str = "") -> None:
            self.seen.append(value)

    api.create_collection("uploads")
    try:
        files = [Uploaded("notes.txt", b"The Zorblatt cafeteria opens at 7 am."),
                 Uploaded("broken.pdf", b"this is not a pdf")]
        job = documents.upload_files(api, "uploads", files)
        bar = Bar()
        job = documents.poll(api, job, bar, timeout=120, every=0.2)
        assert job.state == "succeeded" and bar.seen[-1] == 1.0
        by_name = {Path(r.path).name: r for r in job.results}
        assert by_name["notes.txt"].status == "ingested"
        assert by_name["broken.pdf"].status == "failed" and by_name["broken.pdf"].reason
        assert [d.source for d in api.list_documents("uploads")] == ["notes.txt"] or \
            [Path(d.source).name for d in api.list_documents("uploads")] == ["notes.txt"]
    finally:
        api.delete_collection("uploads")
