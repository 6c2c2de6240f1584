"""``rag eval run|compare|calibrate``: measure answers, abstention, retrieval and hallucination."""

from __future__ import annotations

import sys
from pathlib import Path

from rag.cli.output import print_json, print_table

#: Exit code when a run falls outside its spec's gates (or compare finds a regression).
EXIT_GATE_FAILED = 11


def add_parser(sub) -> None:
    p = sub.add_parser("eval", help="evaluate the service on a question set")
    s = p.add_subparsers(dest="action", metavar="ACTION", required=True)

    run = s.add_parser("run", help="run an evaluation spec (a .toml file or a built-in name)")
    run.add_argument("spec", help="spec file or built-in: squad2, rgb-negative, financebench")
    run.add_argument("--out", required=True, type=Path, help="output folder (a rerun resumes there)")
    run.add_argument("--limit", type=int, help="ask only this many questions")
    run.add_argument("--concurrency", type=int, default=1, help="questions in flight at once")
    run.add_argument("--url", help="evaluate a running server instead of the in-process pipeline")
    run.add_argument("--api-key", help="the server's API key, with --url")
    run.add_argument("--json", action="store_true", help="print metrics.json")
    run.set_defaults(func=run_eval)

    cmp_ = s.add_parser("compare", help="metric deltas between two runs, with bootstrap confidence intervals")
    cmp_.add_argument("run_a", type=Path)
    cmp_.add_argument("run_b", type=Path)
    cmp_.add_argument("--json", action="store_true")
    cmp_.set_defaults(func=run_compare)

    cal = s.add_parser("calibrate", help="measure the hallucination scorer against human labels")
    cal.add_argument("args", nargs="*", help="options passed to the calibration program (see --help there)")
    cal.set_defaults(func=run_calibrate)


def run_eval(args, settings) -> int:
    from eval.backends import InProcessBackend, RemoteBackend
    from eval.runner import run
    from eval.spec import load_spec

    spec = load_spec(args.spec, limit=args.limit)
    if args.url and spec.settings:
        print(f"note: the spec's [settings] apply in-process only; {args.url} uses its own", file=sys.stderr)
    backend = RemoteBackend(args.url, api_key=args.api_key) if args.url else InProcessBackend(spec.apply(settings))
    metrics = run(spec, backend, args.out, concurrency=args.concurrency, progress=sys.stderr.isatty())
    if args.json:
        print_json(metrics)
    else:
        from eval.report import HEADLINE

        print_table(["metric", "value"], [(m, _fmt(metrics.get(m))) for m in HEADLINE if metrics.get(m) is not None])
        print(f"\nreports: {args.out / 'report.md'}, {args.out / 'report.html'}")
    for failure in metrics["gate_failures"]:
        print(f"gate failed: {failure}", file=sys.stderr)
    return EXIT_GATE_FAILED if metrics["gate_failures"] else 0


def run_compare(args, settings) -> int:
    from eval.compare import compare

    rows = compare(args.run_a, args.run_b)
    if args.json:
        print_json(rows)
    else:
        print_table(["metric", "n", "A", "B", "B−A", "95% CI", ""],
                    [(r["metric"], r["n"], f"{r['a']:.3f}", f"{r['b']:.3f}", f"{r['delta']:+.3f}",
                      f"[{r['ci_low']:+.3f}, {r['ci_high']:+.3f}]", "REGRESSION" if r["regression"] else "")
                     for r in rows])
    return EXIT_GATE_FAILED if any(r["regression"] for r in rows) else 0


def run_calibrate(args, settings) -> int:
    try:
        from eval.calibration import main
    except ImportError as exc:
        from rag.errors import MissingDependencyError

        raise MissingDependencyError(f"the calibration program is not available: {exc}") from exc
    return int(main(args.args) or 0)


def _fmt(v) -> str:
    return f"{v:.4f}" if isinstance(v, float) else str(v)
