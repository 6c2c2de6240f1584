"""Served backend at full concurrency: answers/s through `rag serve` against a vLLM server.

Starts the vLLM (CPU build) test server with the ``llm`` command of docker-compose.yml
and ``rag serve`` with the ``api`` service's environment (tests/vllm_server.py), ingests
this repository's docs/ into a collection, then asks the same questions

- one at a time,
- all at once (``--concurrency``, default 16) with the server's default pool for the
  openai backend (``RAG_ASK_WORKERS=0``: 64 threads),
- all at once with the pool of 4 threads the server had before (``RAG_ASK_WORKERS=4``),

and prints answers/s, median latency and the speed-up over one at a time. Every run
sees the same server, model and questions; the figures are medians of ``--repeats`` runs.

Needs ``scripts/vllm/setup.sh``. Run:
``python benchmarks/served_concurrency.py [--concurrency 16] [--repeats 1] [--max-tokens 64] [--json]``
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._common import REPO, default_models_home, machine, machine_line, note  # noqa: E402
from tests import vllm_server  # noqa: E402

QUESTIONS = [
    "What happens to a collection if ingestion is killed halfway?",
    "How do I serve the API with an API key?",
    "Which encoder is the default?",
    "How are answers checked against their passages?",
    "What does the hybrid retrieval mode combine?",
    "How do I run the web UI?",
    "What does min_relevance do?",
    "How are PDF files ingested?",
    "What is the default answer model?",
    "How does the OpenAI-compatible endpoint work?",
    "Which index types does the store support?",
    "How do I pull the models offline?",
    "What does the evaluation report contain?",
    "How large can an upload be?",
    "How are citations shown in the answer?",
    "What happens when the generator server is down?",
]


def ask_all(client, questions: list[str], workers: int, max_tokens: int) -> dict:
    """Ask every question with ``workers`` client threads; answers/s and latencies."""
    def one(q: str) -> float:
        t = time.perf_counter()
        client.ask("docs", q, max_tokens=max_tokens, temperature=0.0)
        return time.perf_counter() - t

    t = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        latencies = list(pool.map(one, questions))
    wall = time.perf_counter() - t
    return {"answers_per_s": len(questions) / wall, "wall_s": wall, "p50_latency_s": statistics.median(latencies)}


def measure(vllm_url: str, home: Path, pool: str, runs: list[tuple[str, int]], questions, repeats, max_tokens):
    """Start `rag serve` with RAG_ASK_WORKERS=pool, ingest docs/ once per home, run each (label, clients)."""
    from rag.client import RAGClient

    rows = []
    with vllm_server.api_on_vllm(vllm_url, home, default_models_home(), RAG_ASK_WORKERS=pool) as url:
        client = RAGClient(url, timeout=600)
        if not any(c.name == "docs" for c in client.list_collections()):
            note("ingesting docs/ ...")
            client.create_collection("docs")
            job = client.upload("docs", sorted((REPO / "docs").glob("*.md")))
            assert client.wait_for_job(job.job_id, timeout=600).state == "succeeded"
        ask_all(client, questions[:2], 2, max_tokens)  # warm-up: first requests load and compile
        for label, clients in runs:
            note(f"{label}: {len(questions)} questions, {clients} at a time, server pool {pool} ...")
            results = [ask_all(client, questions, clients, max_tokens) for _ in range(repeats)]
            rows.append({"run": label, "clients": clients, "ask_workers": pool,
                         **{k: statistics.median(r[k] for r in results) for k in results[0]}})
    return rows


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--concurrency", type=int, default=16, help="questions asked at once (default 16)")
    p.add_argument("--repeats", type=int, default=1, help="runs per configuration; medians are printed")
    p.add_argument("--max-tokens", type=int, default=64, help="answer length cap (default 64)")
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    reason = vllm_server.missing()
    if reason:
        print(f"served_concurrency: {reason}")
        return 1
    questions = (QUESTIONS * (args.concurrency // len(QUESTIONS) + 1))[: max(args.concurrency, 1)]
    info = machine()
    with tempfile.TemporaryDirectory(prefix="served-bench-") as tmp:
        tmp = Path(tmp)
        with vllm_server.running_vllm(tmp / "vllm.log") as vllm_url:
            rows = measure(vllm_url, tmp / "home", "0",
                           [("one at a time", 1), (f"{args.concurrency} at once", args.concurrency)],
                           questions, args.repeats, args.max_tokens)
            rows += measure(vllm_url, tmp / "home", "4", [(f"{args.concurrency} at once, old pool", args.concurrency)],
                            questions, args.repeats, args.max_tokens)
    base = rows[0]["answers_per_s"]
    for r in rows:
        r["speedup"] = r["answers_per_s"] / base
    if args.json:
        print(json.dumps({"machine": info, "max_tokens": args.max_tokens, "rows": rows}, indent=2))
        return 0
    print(machine_line(info))
    print(f"vLLM CPU server, {vllm_server.SERVED_NAME}; `rag serve` (openai backend); "
          f"{len(questions)} questions, max_tokens {args.max_tokens}")
    print(f"{'run':<26}{'server pool':>12}{'answers/s':>11}{'p50 s':>8}{'x one':>7}")
    for r in rows:
        pool = "64 (default)" if r["ask_workers"] == "0" else r["ask_workers"]
        print(f"{r['run']:<26}{pool:>12}{r['answers_per_s']:>11.2f}{r['p50_latency_s']:>8.1f}{r['speedup']:>7.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
