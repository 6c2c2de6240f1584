"""``rag doctor``: check that this machine can run the configured models, before the first answer.

    rag doctor                 # CPU, the llama.cpp build and a real long prompt in a child process
    rag doctor --json
"""

from __future__ import annotations

import json
import sys


def add_parser(sub) -> None:
    p = sub.add_parser(
        "doctor",
        help="check the CPU, the llama.cpp build and the generator",
        description="Run the configured embedded generator on a long prompt in a child process, so that a "
        "build this CPU cannot run is reported (with how to rebuild) instead of crashing an answer.",
    )
    p.add_argument("--prompt-tokens", type=int, default=600, help="length of the test prompt (default 600)")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(func=run)


def run(args, settings) -> int:
    from rag.generate.cpu_features import build_plan

    plan = build_plan()
    report: dict = {"cpu": plan.enabled(), "amx": plan.amx_reason, "backend": settings.generator_backend}
    if settings.generator_backend != "llamacpp":
        report.update(ok=True, message="the generator is a served model; nothing runs in this process")
        return _emit(report, args.json)

    from rag.generate.selfcheck import check_llamacpp
    from rag.models import DEFAULT_GENERATOR, resolve

    model = resolve(settings.generator_model or DEFAULT_GENERATOR, settings, kind="generator", auto_pull=False)
    result = check_llamacpp(model, prompt_tokens=args.prompt_tokens, threads=settings.generator_threads)
    report.update(model=str(model), ok=result.ok, message=result.message, llama_cpp_build=result.system_info.strip(),
                  prompt_tokens=result.prompt_tokens, prompt_tokens_per_s=round(result.prompt_tokens_per_s, 1),
                  decode_tokens_per_s=round(result.decode_tokens_per_s, 1), unusable=result.unusable)
    return _emit(report, args.json)


def _emit(report: dict, as_json: bool) -> int:
    if as_json:
        print(json.dumps(report, indent=2))
    else:
        print(f"CPU instruction sets: {' '.join(report['cpu'])}")
        print(f"AMX: {report['amx']}")
        if report.get("llama_cpp_build"):
            print(f"llama.cpp build: {report['llama_cpp_build']}")
        if report.get("model"):
            print(f"generator: {report['model']}")
        stream = sys.stdout if report["ok"] else sys.stderr
        print(("ok: " if report["ok"] else "rag doctor: error: ") + report["message"], file=stream)
    return 0 if report["ok"] else 10
