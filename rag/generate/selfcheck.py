"""A self-check of the embedded llama.cpp generator, run in a child process.

A llama.cpp build that uses an instruction the CPU (or its VM) does not allow kills
the process with SIGILL ("Illegal instruction") at the first batched matrix multiply,
in the middle of whatever was running. :func:`check_llamacpp` runs a real prompt of
several hundred tokens in a child process instead, so such a build is reported with
what failed and how to rebuild, before the first answer.

Run from the command line as ``rag doctor``, or directly::

    python -m rag.generate.selfcheck MODEL.gguf --prompt-tokens 600
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from rag.generate.cpu_features import build_plan, cpu_flags, probe_amx

#: Printed by the child before anything runs, then its result as one JSON line.
_INFO_TAG = "SYSTEM_INFO "
_RESULT_TAG = "RESULT "

REBUILD_HINT = (
    "rebuild llama-cpp-python for this CPU with `make setup` (it runs scripts/llama_cpp/install.sh), "
    "or by hand: LLAMA_AMX=0 bash scripts/llama_cpp/install.sh .venv; to choose the instruction sets "
    "yourself set LLAMA_CMAKE_ARGS=\"-DGGML_NATIVE=OFF -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON\" "
    "(see docs/models.md)"
)

# The build's instruction-set names (llama_print_system_info) and the CPU flags each needs.
_BUILD_FEATURES = {
    "AVX": ("avx",), "AVX2": ("avx2",), "F16C": ("f16c",), "FMA": ("fma",), "BMI2": ("bmi2",),
    "AVX_VNNI": ("avx_vnni",), "AVX512": ("avx512f",), "AVX512_VBMI": ("avx512vbmi",),
    "AVX512_VNNI": ("avx512_vnni",), "AVX512_BF16": ("avx512_bf16",),
    "AMX_INT8": ("amx_int8", "amx_tile"),
}


@dataclass
class SelfCheck:
    """What the child process reported.

    Attributes:
        ok: the prompt was processed and an answer came back.
        message: one line for a person (the figures, or what failed and how to fix it).
        system_info: llama.cpp's own list of the instruction sets it was built with.
        prompt_tokens, completion_tokens: tokens in and out.
        prompt_tokens_per_s, decode_tokens_per_s: measured speeds.
        text: the generated text.
        signal: the signal that killed the child, if one did.
    """

    ok: bool
    message: str
    system_info: str = ""
    prompt_tokens: int = 0
    completion_tokens: int = 0
    prompt_tokens_per_s: float = 0.0
    decode_tokens_per_s: float = 0.0
    text: str = ""
    signal: int | None = None
    unusable: list[str] = field(default_factory=list)


def build_features(system_info: str) -> set[str]:
    """The instruction sets a llama.cpp build reports as on (``AVX2 = 1 | ...``)."""
    on = set()
    for part in system_info.replace("\n", "|").split("|"):
        name, _, value = part.rpartition("=")
        name = name.split(":")[-1].strip()
        if name and value.strip() == "1":
            on.add(name)
    return on


def unusable_features(system_info: str, flags: set[str] | None = None, amx_usable: bool | None = None) -> list[str]:
    """Instruction sets the build uses that this CPU does not offer (or, for AMX, does not allow)."""
    flags = cpu_flags() if flags is None else flags
    bad = []
    for name in sorted(build_features(system_info)):
        needed = _BUILD_FEATURES.get(name)
        if needed is None:
            continue
        if name == "AMX_INT8":
            usable = amx_usable if amx_usable is not None else probe_amx(flags)[0]
            if not usable:
                bad.append(name)
        elif not all(f in flags for f in needed):
            bad.append(name)
    return bad


def explain_crash(sig: int, system_info: str, *, flags: set[str] | None = None,
                  amx_usable: bool | None = None) -> tuple[str, list[str]]:
    """A one-paragraph explanation of a child killed by ``sig``, and the culprit instruction sets."""
    try:
        name = signal.Signals(sig).name
    except ValueError:
        name = f"signal {sig}"
    bad = unusable_features(system_info, flags, amx_usable) if system_info else []
    if sig == signal.SIGILL and not bad and "AMX_INT8" in build_features(system_info):
        # The AMX probe is necessary, not sufficient: a VM has passed it and still killed
        # llama.cpp's AMX kernels. With every other instruction set listed, AMX is the suspect.
        bad = ["AMX_INT8"]
    if sig == signal.SIGILL:
        what = "Illegal instruction: the llama.cpp build uses an instruction this CPU does not allow"
        if bad:
            what += f" ({', '.join(bad)}: built in, but not usable here"
            if "AMX_INT8" in bad:
                what += "; the CPU lists AMX but this machine or VM does not let llama.cpp use it"
            what += ")"
    else:
        what = f"the embedded generator died with {name}"
    built = " ".join(sorted(build_features(system_info))) or "unknown"
    usable = " ".join(build_plan(flags if flags is not None else cpu_flags(), amx="0").enabled())
    return f"{what}. Built for: {built}. This CPU offers: {usable}. To fix, {REBUILD_HINT}.", bad


def check_llamacpp(model_path: str | os.PathLike[str], *, prompt_tokens: int = 600, max_tokens: int = 16,
                   threads: int = 0, timeout: float = 600.0, python: str | None = None) -> SelfCheck:
    """Load the GGUF model in a child process and answer a prompt of about ``prompt_tokens``.

    A prompt of several hundred tokens goes through llama.cpp's batched matrix
    multiplication, the code path an unusable instruction set breaks (a one-token
    prompt does not). The child's death by a signal becomes a :class:`SelfCheck`
    with ``ok=False`` and a message naming what failed and how to rebuild.
    """
    cmd = [python or sys.executable, "-m", "rag.generate.selfcheck", os.fspath(model_path),
           "--prompt-tokens", str(prompt_tokens), "--max-tokens", str(max_tokens), "--threads", str(threads)]
    env = dict(os.environ, PYTHONFAULTHANDLER="1")
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env,
                              cwd=Path(__file__).resolve().parents[2])
    except subprocess.TimeoutExpired:
        return SelfCheck(ok=False, message=f"the generator self-check did not finish in {timeout:.0f} s")
    info, result = "", None
    for line in proc.stdout.splitlines():
        if line.startswith(_INFO_TAG):
            info = json.loads(line[len(_INFO_TAG):])
        elif line.startswith(_RESULT_TAG):
            result = json.loads(line[len(_RESULT_TAG):])
    if proc.returncode < 0:
        message, bad = explain_crash(-proc.returncode, info)
        return SelfCheck(ok=False, message=message, system_info=info, signal=-proc.returncode, unusable=bad)
    if proc.returncode != 0 or result is None:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
        return SelfCheck(ok=False, message=f"the generator self-check failed (exit {proc.returncode}): {tail[0]}",
                         system_info=info)
    message = (f"{result['prompt_tokens']} prompt tokens at {result['prompt_tokens_per_s']:.0f} tok/s, "
               f"{result['completion_tokens']} generated at {result['decode_tokens_per_s']:.1f} tok/s")
    return SelfCheck(ok=bool(result["text"].strip()), message=message, system_info=info, **result)


def filler_question(count_tokens, prompt_tokens: int) -> str:
    """A question over at least ``prompt_tokens`` tokens of plain text (counted with the model)."""
    sentence = ("The archive holds quarterly reports, meeting notes and design documents, "
                "each filed under its department and year. ")
    question = "\nIn one short sentence: what does the archive hold?"
    body = sentence * max(1, prompt_tokens // max(1, count_tokens(sentence)))
    while count_tokens(body + question) < prompt_tokens:
        body += sentence
    return body + question


def _child(model: str, prompt_tokens: int, max_tokens: int, threads: int) -> int:
    import llama_cpp

    from rag.generate.llamacpp import LlamaCppGenerator

    print(_INFO_TAG + json.dumps(llama_cpp.llama_print_system_info().decode(errors="replace")), flush=True)
    gen = LlamaCppGenerator(model, n_ctx=max(2048, prompt_tokens + max_tokens + 256), n_threads=threads or None)
    gen.load()
    messages = [{"role": "user", "content": filler_question(gen.count_tokens, prompt_tokens)}]
    t0 = time.perf_counter()
    gen.first_token_logprobs(messages)  # batched prompt processing: where an unusable instruction set faults
    t1 = time.perf_counter()
    out = gen.generate(messages, max_tokens=max_tokens)  # samples from the prompt evaluated above
    t2 = time.perf_counter()
    print(_RESULT_TAG + json.dumps({
        "prompt_tokens": out.prompt_tokens, "completion_tokens": out.completion_tokens, "text": out.text,
        "prompt_tokens_per_s": out.prompt_tokens / (t1 - t0),
        "decode_tokens_per_s": out.completion_tokens / max(t2 - t1, 1e-9),
    }), flush=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(description="Run a long prompt through llama.cpp (the child of rag doctor).")
    parser.add_argument("model")
    parser.add_argument("--prompt-tokens", type=int, default=600)
    parser.add_argument("--max-tokens", type=int, default=16)
    parser.add_argument("--threads", type=int, default=0)
    args = parser.parse_args(argv)
    return _child(args.model, args.prompt_tokens, args.max_tokens, args.threads)


if __name__ == "__main__":
    sys.exit(main())
