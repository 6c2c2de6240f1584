"""The UI in a real browser: headless Chromium (Playwright) against ``rag ui`` (Streamlit)
and a real ``rag serve``. Screenshots go to test-output/ui/ for a person to look at."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.api_server import free_port, running_server
from tests.conftest import DATASETS, ROOT

pytestmark = pytest.mark.slow

CHROMIUM = Path("/usr/bin/chromium")
#: Never let a tool fetch its own browser or phone home (see shared/MODELS.md).
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run"]
SHOTS = ROOT / "test-output" / "ui"
POLICY = """# Vacation policy

Employees of Zorblatt Industries get 27 vacation days per year.

Unused vacation days expire at the end of March of the following year.
"""
QUESTION = "How many vacation days do Zorblatt employees get?"
UNRELATED = "What is the boiling point of tungsten on Jupiter?"
PDF = DATASETS / "financebench" / "pdfs" / "AMCOR_2022_8K_dated-2022-07-01.pdf"


def _need_browser():
    if not CHROMIUM.exists():
        reason = f"{CHROMIUM} is missing: run scripts/ensure_chromium.sh (apt-get install chromium)"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        if os.environ.get("CI"):
            pytest.fail("playwright is not installed (the 'dev' extra)")
        pytest.skip("playwright is not installed (the 'dev' extra)")
    pytest.importorskip("streamlit", reason="install the 'ui' extra")
    return sync_playwright


@pytest.fixture(scope="module")
def api(tmp_path_factory, models_home):
    # The default answer model: it cites its passages (citation recall 0.97 on the CI
    # evaluation); SmolLM2 often writes no [n] marker, which left nothing to open.
    env = {"RAG_GENERATOR_MODEL": "qwen2.5-coder-1.5b-instruct-q4_k_m", "RAG_GENERATOR_CONTEXT_WINDOW": "4096",
           "RAG_GENERATOR_THREADS": "2"}
    with running_server(tmp_path_factory.mktemp("browser-api"), models_home, env=env) as url:
        yield url


def write_runs(folder: Path) -> None:
    """Two small evaluation runs, as `rag eval run` writes them."""
    for name, f1 in (("2024-01-baseline", 0.42), ("2024-02-hybrid", 0.55)):
        run = folder / name
        run.mkdir(parents=True)
        rows = [{"id": str(i), "question": f"Question number {i} about the report?", "kind": kind,
                 "answerable": i % 5 != 0, "answers": [f"answer {i}"], "prediction": f"answer {i}" if i % 3 else "other",
                 "abstained": i % 5 == 0, "f1": None if i % 5 == 0 else (1.0 if i % 3 else 0.25 * (i % 4)),
                 "em": 1.0 if i % 3 else 0.0, "unsupported_share": 0.5 if i % 7 == 0 else 0.0, "seconds": 2.0 + i % 3}
                for i, kind in zip(range(1, 25), ["fact", "numeric", "multi-hop"] * 8)]
        metrics = {"questions": len(rows), "answer_f1": f1, "answer_em": f1 - 0.1, "retrieval_recall@k": f1 + 0.3,
                   "citation_precision": 0.8, "hallucination_rate": 0.12, "abstention_f1": 0.6,
                   "confident_answer_rate_unanswerable": 0.3, "seconds_per_question": 2.9,
                   "by_kind": {k: {"answer_f1": f1 + d, "answer_em": f1 - 0.1 + d}
                               for k, d in (("fact", 0.1), ("numeric", -0.2), ("multi-hop", 0.0))},
                   "spec": {"name": name, "dataset": "financebench", "k": 5, "mode": "hybrid"},
                   "gate_failures": [] if f1 > 0.5 else ["answer_f1 0.42 < 0.50"]}
        (run / "metrics.json").write_text(json.dumps(metrics))
        (run / "results.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
        time.sleep(0.05)


@pytest.fixture(scope="module")
def ui(api, tmp_path_factory):
    """``rag ui`` on a free port, in its own process group (streamlit is its child)."""
    port = free_port()
    log_path = tmp_path_factory.mktemp("ui") / "ui.log"
    runs = tmp_path_factory.mktemp("eval-runs")
    write_runs(runs)
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_UI_")}
    env.update({"STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false"})
    with open(log_path, "w") as log:
        proc = subprocess.Popen([sys.executable, "-m", "rag.cli.main", "ui", "--port", str(port), "--api-url", api,
                                 "--eval-dir", str(runs)],
                                cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 120
            while True:
                if proc.poll() is not None:
                    raise RuntimeError(f"rag ui exited with {proc.returncode}:\n{log_path.read_text()[-3000:]}")
                try:
                    if httpx.get(url + "/_stcore/health", timeout=2).text == "ok":
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f"rag ui did not start:\n{log_path.read_text()[-3000:]}")
                time.sleep(0.3)
            yield url
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


@pytest.fixture(scope="module")
def browser():
    sync_playwright = _need_browser()
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 1500})
    pg = context.new_page()
    pg.set_default_timeout(60_000)
    yield pg
    context.close()


def shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def wait_idle(page, timeout: float = 240_000) -> None:
    """Wait until Streamlit has finished the current run (its status widget is gone)."""
    page.wait_for_timeout(300)
    page.wait_for_function("() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=timeout)


def test_upload_ask_cite_and_not_found(ui, page, tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    policy = docs / "zorblatt-policy.md"
    policy.write_text(POLICY)
    files = [str(policy)] + ([str(PDF)] if PDF.exists() else [])

    # Documents: create a collection, upload the files, see the per-file results and the list.
    page.goto(ui + "/documents")
    page.get_by_text("There is no collection yet").or_(page.get_by_text("No collection yet")).first.wait_for()
    page.get_by_label("New collection", exact=True).fill("handbook")
    page.get_by_role("button", name="Create").click()
    page.get_by_text("Created the collection “handbook”").wait_for()
    page.locator("input[type=file]").set_input_files(files)
    page.get_by_text(policy.name).first.wait_for()
    page.get_by_role("button", name="Upload and ingest").click()
    page.get_by_text(re.compile(r"Ingested \d+ of \d+ files")).wait_for(timeout=300_000)
    wait_idle(page)
    assert page.get_by_text(f"Ingested {len(files)} of {len(files)} files").count() == 1
    shot(page, "1-documents")

    # Ask: the answer streams in (a draft with a cursor), then the sources.
    page.get_by_test_id("stSidebarNav").get_by_text("Ask", exact=True).click()  # the default page: "/"
    sidebar = page.get_by_test_id("stSidebar")
    sidebar.get_by_text("Answer", exact=True).click()
    tokens = sidebar.get_by_label("Longest answer (tokens)")
    tokens.fill("96")  # SmolLM2 rambles: keep the test short
    tokens.press("Enter")
    wait_idle(page)
    box = page.get_by_test_id("stChatInputTextArea")
    box.fill(QUESTION)
    box.press("Enter")
    page.locator(".rag-answer").first.wait_for(timeout=240_000)  # the first tokens arrive
    saw_draft = "▌" in page.locator(".rag-answer").first.inner_text()
    shot(page, "2-streaming")
    page.locator(".rag-timings").first.wait_for(timeout=240_000)  # the final answer is drawn
    wait_idle(page)
    assert saw_draft or page.locator(".rag-answer").count() == 1
    answer = page.locator(".rag-answer").first.inner_text()
    assert answer.strip() and "▌" not in answer
    shot(page, "3-answer")

    # A citation opens onto its source: title, page/file and the highlighted quote.
    citations = page.locator("[data-testid=stExpander] summary").filter(has_text=re.compile(r"\[\d+\] "))
    assert citations.count() >= 1, f"the model gave no citation: {answer!r}"
    for i in range(min(2, citations.count())):
        citations.nth(i).click()
    mark = page.locator(".rag-passage mark").first
    mark.wait_for()
    page.wait_for_timeout(1000)  # the expander's opening animation
    assert mark.inner_text().strip()
    assert page.locator(".rag-source").first.is_visible()
    shot(page, "4-citation")

    # A question the documents do not answer: the similarity gate abstains.
    box.fill(UNRELATED)
    box.press("Enter")
    page.get_by_text("Not found in your documents").wait_for(timeout=120_000)
    wait_idle(page)
    assert page.get_by_text("Reason:").count() >= 1
    assert page.get_by_text(QUESTION).count() >= 1  # the conversation is kept
    shot(page, "5-not-found")


def test_evaluation_page(ui, page):
    page.goto(ui + "/evaluation")
    page.get_by_text("Answer F1").first.wait_for()
    wait_idle(page)
    assert page.get_by_text("All quality gates passed").count() == 1  # the newest run is shown first
    assert page.get_by_test_id("stMetric").count() == 8
    assert page.get_by_text("Compare with another run").count() == 1
    page.wait_for_timeout(1000)  # charts draw after the run
    shot(page, "7-evaluation")


def test_service_down_page_shows_error_and_retry(browser, tmp_path):
    """``rag ui`` pointing at a closed port: a readable error and a Retry button, no traceback."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_UI_")}
    proc = subprocess.Popen([sys.executable, "-m", "rag.cli.main", "ui", "--port", str(port),
                             "--api-url", f"http://127.0.0.1:{free_port()}"], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if httpx.get(url + "/_stcore/health", timeout=2).text == "ok":
                    break
            except httpx.TransportError:
                time.sleep(0.3)
        context = browser.new_context(viewport={"width": 1400, "height": 800})
        pg = context.new_page()
        pg.goto(url)
        pg.get_by_text("Could not list the collections").wait_for(timeout=60_000)
        pg.get_by_role("button", name="Retry").wait_for()
        wait_idle(pg)
        assert pg.get_by_text("Traceback").count() == 0
        shot(pg, "6-service-down")
        context.close()
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(15)
