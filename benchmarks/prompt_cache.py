"""What keeping the system prompt's KV cache between questions saves on the embedded model.

The llama.cpp generator evaluates a prompt as its anchor (every message but the last:
the grounded-answer instructions) from an empty cache, then the rest on top of it, and
keeps the anchor's cache for the next question. This program asks the same questions
through the whole service (`RAGService.ask`) both ways: with the anchor kept from the
question before, and with it dropped first (so the whole prompt is evaluated, as before
the cache was kept). Runs alternate between the two; it prints the median seconds per
answer of each, their ratio, how many prompt tokens were reused, and whether the two ways
gave the same answer and score to every question (they must: the anchor is always
evaluated alone, so the cache changes no bit of the output)::

    python benchmarks/prompt_cache.py --rounds 3
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


def main(argv: list[str] | None = None) -> int:
    args = answer_args(__doc__, argv)

    from rag.schemas import AskRequest

    info = machine()
    with tempfile.TemporaryDirectory() as home:
        service, _ = docs_service(Path(home))
        gen = service.generator
        service.ask("bench", AskRequest(query=QUESTIONS[-1], max_tokens=args.max_tokens))  # the anchor is kept now
        rows = []
        for round_no in range(args.rounds):
            for q in QUESTIONS:
                row = {"question": q, "round": round_no}
                for which in (["kept", "dropped"] if round_no % 2 == 0 else ["dropped", "kept"]):
                    if which == "dropped":
                        gen._anchor = None  # the next evaluation starts from an empty cache
                    t = time.perf_counter()
                    response = service.ask("bench", AskRequest(query=q, max_tokens=args.max_tokens))
                    row[f"{which}_s"] = time.perf_counter() - t
                    row[f"{which}_reused"] = gen.last_reused_tokens
                    row[f"{which}_answer"] = (response.answer, response.answerable_score)
                rows.append(row)
                note(f"round {round_no + 1} {q[:40]!r}: kept {row['kept_s']:.2f} s ({row['kept_reused']} tokens reused), "
                     f"dropped {row['dropped_s']:.2f} s")
        service.close()

    summary = {
        "machine": info,
        "load_after": machine()["loadavg"],
        "rounds": args.rounds,
        "questions": len(QUESTIONS),
        "kept_s_median": median([r["kept_s"] for r in rows]),
        "dropped_s_median": median([r["dropped_s"] for r in rows]),
        "ratio_median": median([r["kept_s"] / r["dropped_s"] for r in rows]),
        "reused_tokens": sorted({r["kept_reused"] for r in rows}),
        "same_output": sum(r["kept_answer"] == r["dropped_answer"] for r in rows),
        "runs": len(rows),
        "rows": rows,
    }
    if args.json:
        print(json.dumps(summary, indent=2))
        return 0
    print(machine_line(info))
    print(f"load after: {summary['load_after']}")
    print(f"{len(rows)} questions asked both ways ({args.rounds} rounds x {len(QUESTIONS)})")
    print(f"anchor kept     median {summary['kept_s_median']:.3f} s per answer "
          f"({', '.join(map(str, summary['reused_tokens']))} prompt tokens reused)")
    print(f"anchor dropped  median {summary['dropped_s_median']:.3f} s per answer")
    print(f"kept / dropped  median ratio {summary['ratio_median']:.3f}")
    print(f"same answer and score both ways: {summary['same_output']} of {len(rows)}")
    return 0 if summary["same_output"] == len(rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
