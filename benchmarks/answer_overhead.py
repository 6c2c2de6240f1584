"""What the answer pipeline adds to raw llama.cpp: the same prompt, the same model, the same tokens.

For each question the service answers (`RAGService.ask`: retrieval, passages, the answerable
score, generation, citations, verification), then raw llama-cpp-python generates from the
very prompt the service built, greedily, on the same loaded model, both evaluating the whole
prompt (the service's kept system-prompt cache is dropped after each raw run; what keeping it
saves is measured by ``benchmarks/prompt_cache.py``). Runs alternate between
the two; the overhead is the service's wall time minus the raw one, per question, and its
median over questions and rounds is reported beside the target (2% + 20 ms)::

    python benchmarks/answer_overhead.py --rounds 3
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._common import DOCS_QUESTIONS as QUESTIONS  # noqa: E402
from benchmarks._common import answer_args, docs_service, machine, machine_line, median, note  # noqa: E402


def raw_generate(gen, messages, max_tokens: int) -> tuple[float, int]:
    """Seconds and tokens for llama.cpp alone: evaluate the prompt, decode greedily."""
    tokens, fmt = gen._prompt(messages)  # the same chat template and tokens the service uses
    llm = gen._llm
    started = time.perf_counter()
    llm.reset()
    out = llm.create_completion(prompt=tokens, max_tokens=max_tokens, temperature=0.0,
                                stop=fmt.stop or None, stopping_criteria=fmt.stopping_criteria)
    seconds = time.perf_counter() - started
    gen._anchor = None  # the cache now holds this run's prompt: the service evaluates its next one whole too
    return seconds, int(out["usage"]["completion_tokens"])


def main(argv: list[str] | None = None) -> int:
    args = answer_args(__doc__, argv)

    from rag.answer.context import assemble
    from rag.answer.prompt import build_prompt
    from rag.schemas import AskRequest, RetrieveRequest

    info = machine()
    with tempfile.TemporaryDirectory() as home:
        service, settings = docs_service(Path(home))
        gen = service.generator
        rows = []
        for round_no in range(args.rounds):
            for q in QUESTIONS:
                hits = service.retrieve("bench", RetrieveRequest(query=q, k=settings.default_k)).hits
                if settings.join_passages:
                    hits = assemble(hits)
                prompt = build_prompt(q, hits, count_tokens=gen.count_tokens, context_window=gen.context_window,
                                      max_tokens=args.max_tokens)
                order = ["service", "raw"] if round_no % 2 == 0 else ["raw", "service"]
                row = {"question": q, "round": round_no}
                for which in order:
                    if which == "raw":
                        row["raw_s"], row["raw_tokens"] = raw_generate(gen, prompt.messages, args.max_tokens)
                    else:
                        t = time.perf_counter()
                        response = service.ask("bench", AskRequest(query=q, max_tokens=args.max_tokens))
                        row["service_s"] = time.perf_counter() - t
                        row["service_tokens"] = gen.count_tokens(response.answer) if response.answerable else 0
                        row["abstained"] = not response.answerable
                row["overhead_s"] = row["service_s"] - row["raw_s"]
                rows.append(row)
                note(f"round {round_no + 1} {q[:40]!r}: service {row['service_s']:.2f} s, raw {row['raw_s']:.2f} s "
                     f"({row['service_tokens']} / {row['raw_tokens']} tokens)")
        service.close()

    same = [r for r in rows if not r["abstained"]]
    summary = {
        "machine": info,
        "load_after": machine()["loadavg"],
        "rounds": args.rounds,
        "questions": len(QUESTIONS),
        "service_s_median": median([r["service_s"] for r in same]),
        "raw_s_median": median([r["raw_s"] for r in same]),
        "overhead_s_median": median([r["overhead_s"] for r in same]),
        "overhead_share_median": median([r["overhead_s"] / r["raw_s"] for r in same]),
        "answered": len(same),
        "rows": rows,
    }
    if args.json:
        print(json.dumps(summary, indent=2))
        return 0
    print(machine_line(info))
    print(f"load after: {summary['load_after']}")
    if not same:
        print("every question abstained: nothing to compare")
        return 1
    allowed = 0.02 * summary["raw_s_median"] + 0.020
    print(f"{len(same)} answered runs ({args.rounds} rounds x {len(QUESTIONS)} questions, abstentions left out)")
    print(f"service  median {summary['service_s_median']:.3f} s")
    print(f"raw      median {summary['raw_s_median']:.3f} s")
    print(f"overhead median {summary['overhead_s_median'] * 1000:.0f} ms "
          f"({summary['overhead_share_median'] * 100:.1f}% of raw); target <= {allowed * 1000:.0f} ms (2% + 20 ms)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
