"""Generation speed of two llama-cpp-python builds on the same CPU: the portable one
(scripts/llama_cpp/install.sh) against another, e.g. the old ``GGML_NATIVE=ON`` build.

Each run is the self-check child (:mod:`rag.generate.selfcheck`): the default model
loaded in a fresh process, a RAG-sized prompt (1,300 tokens) evaluated, then a short
answer decoded. Runs alternate between the builds; the figures are medians, and the
ratio is taken within this one invocation::

    # build the comparison once into its own venv and wheel cache:
    python3.11 -m venv /tmp/native-venv && /tmp/native-venv/bin/pip install pydantic pydantic-settings platformdirs numpy
    LLAMA_CMAKE_ARGS="-DGGML_NATIVE=ON" LLAMA_WHEEL_CACHE=/tmp/native-wheels \\
        bash scripts/llama_cpp/install.sh /tmp/native-venv
    .venv/bin/python benchmarks/llama_build.py --other /tmp/native-venv/bin/python --runs 5
"""

from __future__ import annotations

import argparse
import json
import os
import sys

sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent.parent))

from benchmarks._common import REPO, default_models_home, machine, median  # noqa: E402


def one_run(python: str, model: str, prompt_tokens: int, max_tokens: int) -> dict:
    from rag.generate.selfcheck import check_llamacpp

    env_path = os.environ.get("PYTHONPATH", "")
    os.environ["PYTHONPATH"] = f"{REPO}{os.pathsep}{env_path}" if env_path else str(REPO)
    result = check_llamacpp(model, prompt_tokens=prompt_tokens, max_tokens=max_tokens, python=python, timeout=900)
    if not result.ok:
        raise SystemExit(f"{python}: {result.message}")
    return {"prompt": result.prompt_tokens_per_s, "decode": result.decode_tokens_per_s,
            "prompt_tokens": result.prompt_tokens, "build": result.system_info.strip()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--other", required=True, help="Python of the venv holding the build to compare with")
    parser.add_argument("--other-name", default="native (GGML_NATIVE=ON)")
    parser.add_argument("--model", default="", help="GGUF path (default: the packaged default generator)")
    parser.add_argument("--prompt-tokens", type=int, default=1300)
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)

    model = args.model
    if not model:
        from rag.config import get_settings
        from rag.models import DEFAULT_GENERATOR, resolve

        settings = get_settings(models_home=default_models_home())
        model = str(resolve(DEFAULT_GENERATOR, settings, kind="generator", auto_pull=False))
    builds = {"portable (this venv)": sys.executable, args.other_name: args.other}
    runs: dict[str, list[dict]] = {name: [] for name in builds}
    before = os.getloadavg()
    for i in range(args.runs):
        for name, python in builds.items():
            runs[name].append(one_run(python, model, args.prompt_tokens, args.max_tokens))
            r = runs[name][-1]
            print(f"run {i + 1} {name}: prompt {r['prompt']:.1f} tok/s, decode {r['decode']:.1f} tok/s", file=sys.stderr)
    after = os.getloadavg()
    table = {name: {"prompt_tok_s": median([r["prompt"] for r in rs]), "decode_tok_s": median([r["decode"] for r in rs]),
                    "prompt_range": [min(r["prompt"] for r in rs), max(r["prompt"] for r in rs)],
                    "decode_range": [min(r["decode"] for r in rs), max(r["decode"] for r in rs)],
                    "prompt_tokens": rs[0]["prompt_tokens"], "build": rs[0]["build"]} for name, rs in runs.items()}
    portable, other = table["portable (this venv)"], table[args.other_name]
    ratios = {"prompt": portable["prompt_tok_s"] / other["prompt_tok_s"],
              "decode": portable["decode_tok_s"] / other["decode_tok_s"]}
    if args.json:
        print(json.dumps({"machine": machine(), "runs": args.runs, "table": table, "ratio_portable_over_other": ratios,
                          "loadavg_before": before, "loadavg_after": after}, indent=2))
        return 0
    print(f"model {os.path.basename(model)}, {args.runs} runs each, load {before[0]:.2f} -> {after[0]:.2f}")
    print(f"{'build':28} {'prompt tok/s (median [range])':32} {'decode tok/s (median [range])':32}")
    for name, row in table.items():
        print(f"{name:28} {row['prompt_tok_s']:7.1f} [{row['prompt_range'][0]:.1f}-{row['prompt_range'][1]:.1f}]"
              f"{'':14} {row['decode_tok_s']:6.2f} [{row['decode_range'][0]:.2f}-{row['decode_range'][1]:.2f}]")
    print(f"portable / other: prompt {ratios['prompt']:.3f}x, decode {ratios['decode']:.3f}x")
    for name, row in table.items():
        print(f"  {name}: {row['build']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
