"""Run an evaluation: ingest the corpus, ask every question, score, write the results.

Output folder::

    results.jsonl   one row per question (the cache that makes a run resumable)
    metrics.json    the aggregate metrics (and gate failures)
    report.md       a readable summary
    report.html     the same with plots

Runs use a fixed sampling seed and temperature 0 (answers can still differ between machines) and are resumable: questions
already in ``results.jsonl`` are not asked again.
"""

from __future__ import annotations

import hashlib
import json
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from eval.backends import Backend
from eval.datasets.base import EvalItem, EvalSet
from eval.metrics import answers as am
from eval.metrics.retrieval import dedupe, mrr, recall_at_k
from eval.metrics.summary import summarize
from eval.spec import Spec, check_gates
from rag.answer.prompt import PROMPT_VERSION
from rag.schemas import AskRequest, AskResponse


def collection_name(evalset: EvalSet, corpus: Path, recipe: dict | None = None) -> str:
    """A collection per corpus folder, its files and the ingestion recipe: a rerun into the
    same output folder reuses it; a collection built by other code is never reused.

    The folder is part of the name because documents are keyed by their path: two runs
    whose samples hold the same files, written to two folders, would otherwise share one
    collection holding every document twice (measured: duplicate passages crowded out
    others in half the answers).
    """
    digest = hashlib.sha256(json.dumps(recipe or {}, sort_keys=True).encode())
    for name in sorted(evalset.corpus_files):
        digest.update(name.encode())
        digest.update(hashlib.sha256(evalset.corpus_files[name]).digest())
    digest.update(str(Path(corpus).resolve()).encode())
    return f"eval-{evalset.name}-{digest.hexdigest()[:10]}"


def score_row(item: EvalItem, response: AskResponse | None, seconds: float, metric: str, error: str | None = None) -> dict:
    """One results.jsonl row: the answer and every per-question score."""
    row = {"id": item.id, "question": item.question, "kind": item.kind, "answerable": item.answerable,
           "answers": item.answers, "seconds": round(seconds, 3), "error": error}
    if response is None:
        row.update(prediction="", abstained=True, reason=error)
        return row
    prediction = response.answer if response.answerable else ""
    row.update(prediction=response.answer, abstained=not response.answerable, reason=response.reason,
               groundedness=response.groundedness, answerable_score=response.answerable_score,
               first_tokens=response.first_tokens,
               timings=response.timings)
    if item.answerable and item.answers:
        row["em"] = am.exact_match(prediction, item.answers)
        row["f1"] = am.token_f1(prediction, item.answers)
        row["contains"] = am.contains_answer(prediction, item.answers)
        if metric == "numeric":
            row["numeric"] = am.numeric_match(prediction, item.answers)
    retrieved = dedupe([Path(p.source).stem for p in response.passages])
    row["retrieved"] = retrieved
    if item.gold_sources:
        gold = {s: 1.0 for s in item.gold_sources}
        row["retrieval_recall"] = recall_at_k(retrieved, gold, len(retrieved) or 1)
        row["retrieval_mrr"] = mrr(retrieved, gold)
    cites = response.citations
    row["cited"] = [{"source": Path(c.source).stem, "page": c.page, "marker": c.marker} for c in cites]
    if cites and item.gold_sources:
        row["citation_precision"] = sum(1 for c in cites if Path(c.source).stem in item.gold_sources) / len(cites)
    if response.answerable and response.sentences:
        row["citation_recall"] = sum(1 for s in response.sentences if s.markers) / len(response.sentences)
        judged = [s for s in response.sentences if s.supported is not None]
        if judged:
            row["unsupported_share"] = sum(1 for s in judged if not s.supported) / len(judged)
    if cites and item.answerable and item.answers and metric != "numeric":
        # Does a passage the answer cites hold a reference answer (SQuAD spans, RGB facts)?
        quoted = [am.normalize(response.passages[c.marker - 1].text) for c in cites
                  if 1 <= c.marker <= len(response.passages)]
        row["cited_answer"] = float(any(am.normalize(a) and am.normalize(a) in q for a in item.answers for q in quoted))
    if item.gold_pages:  # was the page that holds the answer shown to the model at all?
        row["retrieval_page_hit"] = float(any(p.page in item.gold_pages and Path(p.source).stem in item.gold_sources
                                              for p in response.passages))
    if item.gold_pages and response.answerable:
        row["page_hit"] = float(any(c.page in item.gold_pages and Path(c.source).stem in item.gold_sources
                                    for c in cites))
    return row


def run(spec: Spec, backend: Backend, out: Path, *, concurrency: int = 1, progress: bool = True) -> dict:
    """Run ``spec`` against ``backend``, writing results into ``out``; returns the metrics."""
    evalset = spec.load_set()
    out.mkdir(parents=True, exist_ok=True)
    corpus = evalset.write_corpus(out / "corpus") if evalset.corpus_dir is None else evalset.corpus_dir
    collection = collection_name(evalset, corpus, backend.recipe())
    backend.prepare(collection, corpus)

    results_path = out / "results.jsonl"
    done = _load_rows(results_path)
    todo = [item for item in evalset.items if item.id not in done]
    lock = threading.Lock()

    from tqdm import tqdm

    bar = tqdm(total=len(evalset.items), initial=len(evalset.items) - len(todo), unit="q", desc=spec.name,
               disable=not progress, file=sys.stderr, leave=False)

    def ask(item: EvalItem) -> None:
        request = AskRequest(query=item.question, k=spec.k, mode=spec.mode, max_tokens=spec.max_tokens)
        t = time.perf_counter()
        try:
            response, error = backend.ask(collection, request), None
        except Exception as exc:  # noqa: BLE001 - one failed question must not stop the run
            response, error = None, f"{type(exc).__name__}: {exc}"
        row = score_row(item, response, time.perf_counter() - t, evalset.answer_metric, error)
        with lock:
            with results_path.open("a", encoding="utf-8") as fh:
                fh.write(json.dumps(row) + "\n")
            done[item.id] = row
            bar.update(1)

    with ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
        list(pool.map(ask, todo))
    bar.close()

    rows = [done[i.id] for i in evalset.items if i.id in done]
    metrics = summarize(rows)
    if evalset.extra_metrics is not None:
        metrics.update(evalset.extra_metrics(rows))
    metrics["by_kind"] = {kind: summarize([r for r in rows if r["kind"] == kind]) for kind in sorted({r["kind"] for r in rows})}
    metrics["spec"] = {"name": spec.name, "dataset": spec.dataset, "limit": spec.limit, "k": spec.k, "mode": spec.mode,
                       "seed": spec.seed, "settings": spec.settings, "backend": backend.describe(),
                       "recipe": backend.recipe(), "prompt_version": PROMPT_VERSION}
    metrics["gate_failures"] = check_gates(spec, metrics)
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2))
    from eval.report import write_reports

    write_reports(out, metrics, rows)
    return metrics


def _load_rows(path: Path) -> dict[str, dict]:
    rows = {}
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                row = json.loads(line)
            except ValueError:
                continue  # a line cut short by a crash: that question is asked again
            if not row.get("error"):
                rows[row["id"]] = row
    return rows
