"""The portable llama.cpp build and the generator self-check that turns a crash into advice."""

from __future__ import annotations

import os
import shutil
import signal
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from rag.generate import cpu_features
from rag.generate.selfcheck import build_features, check_llamacpp, explain_crash

ROOT = Path(__file__).resolve().parents[1]

SPR_CPUINFO = """processor\t: 0
vendor_id\t: GenuineIntel
flags\t\t: fpu sse4_2 avx f16c fma bmi2 avx2 avx512f avx512cd avx512vl avx512dq avx512bw avx512_vnni \
avx512_bf16 avx512vbmi amx_bf16 amx_tile amx_int8
"""
AMX_BUILD_INFO = "CPU : SSE3 = 1 | AVX = 1 | AVX2 = 1 | FMA = 1 | AVX512 = 1 | AVX512_VNNI = 1 | AMX_INT8 = 1 | OPENMP = 1 |"


def test_flags_are_read_from_cpuinfo() -> None:
    flags = cpu_features.cpu_flags(SPR_CPUINFO)
    assert {"avx2", "avx512f", "amx_tile", "amx_int8"} <= flags
    assert cpu_features.cpu_flags("processor : 0\n") == set()


def test_plan_turns_on_what_the_cpu_lists_and_never_native() -> None:
    plan = cpu_features.build_plan(cpu_features.cpu_flags(SPR_CPUINFO), amx="0")
    args = plan.cmake_args()
    assert args.startswith("-DGGML_NATIVE=OFF")
    for on in ("GGML_AVX2=ON", "GGML_FMA=ON", "GGML_F16C=ON", "GGML_AVX512=ON", "GGML_AVX512_VNNI=ON",
               "GGML_AVX512_BF16=ON", "GGML_AVX512_VBMI=ON"):
        assert f"-D{on}" in args
    assert "-DGGML_AMX_INT8=OFF" in args and "-DGGML_AVX_VNNI=OFF" in args
    older = cpu_features.build_plan({"sse4_2", "avx", "avx2", "fma", "f16c"}, amx="auto")
    assert older.options["GGML_AVX2"] and not older.options["GGML_AVX512"]
    assert not older.options["GGML_AMX_INT8"] and "does not list AMX" in older.amx_reason


def test_amx_is_on_only_when_a_child_process_ran_it() -> None:
    """Listed AMX is probed in a child; on a CPU or VM that cannot run it, it stays off."""
    usable, reason = cpu_features.probe_amx(cpu_features.cpu_flags(SPR_CPUINFO))
    here = cpu_features.cpu_flags()
    if {"amx_tile", "amx_int8"} <= here:
        assert isinstance(usable, bool) and reason  # a real AMX CPU: either verdict, with its reason
    else:
        assert not usable and ("refuses" in reason or "signal" in reason), reason
    plan = cpu_features.build_plan(cpu_features.cpu_flags(SPR_CPUINFO), amx="auto")
    assert plan.options["GGML_AMX_INT8"] is usable
    assert cpu_features.build_plan(set(), amx="1").options["GGML_AMX_INT8"]  # the user's override wins


def test_amx_is_off_unless_asked_even_where_the_probe_passes(monkeypatch) -> None:
    """A VM has passed the probe and still killed llama.cpp's AMX kernels: AMX is opt-in."""
    monkeypatch.delenv("LLAMA_AMX", raising=False)
    monkeypatch.setattr(cpu_features, "probe_amx", lambda *a, **k: (True, "AMX tile instructions ran"))
    plan = cpu_features.build_plan(cpu_features.cpu_flags(SPR_CPUINFO))
    assert not plan.options["GGML_AMX_INT8"] and "LLAMA_AMX=1" in plan.amx_reason
    assert "-DGGML_AMX_INT8=OFF" in plan.cmake_args() and "-DGGML_AVX512_BF16=ON" in plan.cmake_args()
    assert cpu_features.build_plan(cpu_features.cpu_flags(SPR_CPUINFO), amx="auto").options["GGML_AMX_INT8"]
    monkeypatch.setenv("LLAMA_AMX", "1")
    assert cpu_features.build_plan(cpu_features.cpu_flags(SPR_CPUINFO)).options["GGML_AMX_INT8"]


def test_installed_build_has_no_amx_instructions_unless_asked() -> None:
    llama_cpp = pytest.importorskip("llama_cpp")
    if shutil.which("objdump") is None:
        pytest.skip("objdump not installed")
    libs = list((Path(llama_cpp.__file__).parent / "lib").glob("libggml-cpu*.so"))
    assert libs, "llama-cpp-python has no libggml-cpu library"
    info = llama_cpp.llama_print_system_info().decode()
    code = subprocess.run(["objdump", "-d", str(libs[0])], capture_output=True, text=True, check=True).stdout
    has_amx = any(f"\t{op} " in code or f"\t{op}\n" in code for op in ("tilezero", "ldtilecfg", "tdpbssd"))
    assert has_amx == ("AMX_INT8 = 1" in info)
    if not {"amx_tile", "amx_int8"} <= cpu_features.cpu_flags():
        assert not has_amx


def test_crash_is_explained_with_the_culprit_and_the_fix() -> None:
    flags = cpu_features.cpu_flags(SPR_CPUINFO)
    message, bad = explain_crash(int(signal.SIGILL), AMX_BUILD_INFO, flags=flags, amx_usable=False)
    assert bad == ["AMX_INT8"]
    assert "Illegal instruction" in message and "lists AMX" in message
    assert "scripts/llama_cpp/install.sh" in message and "LLAMA_CMAKE_ARGS" in message
    assert build_features(AMX_BUILD_INFO) >= {"AVX2", "AMX_INT8"}
    # The probe passed (amx_usable) and the build still died: AMX is named all the same.
    message, bad = explain_crash(int(signal.SIGILL), AMX_BUILD_INFO, flags=flags, amx_usable=True)
    assert bad == ["AMX_INT8"] and "LLAMA_AMX=0" in message
    message, bad = explain_crash(int(signal.SIGILL), AMX_BUILD_INFO.replace("AMX_INT8 = 1", "AMX_INT8 = 0"),
                                 flags={"avx", "avx2", "fma"}, amx_usable=False)
    assert bad == ["AVX512", "AVX512_VNNI"]


def test_child_killed_by_sigill_becomes_a_clear_failure(tmp_path: Path) -> None:
    """The real check_llamacpp path, with a child that dies of SIGILL as a faulting build would."""
    fake = tmp_path / "python"
    fake.write_text("#!/bin/sh\necho 'SYSTEM_INFO \"" + AMX_BUILD_INFO.replace('"', '') + "\"'\nkill -ILL $$\n")
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    result = check_llamacpp(tmp_path / "model.gguf", python=str(fake), timeout=30)
    assert not result.ok
    assert result.signal == signal.SIGILL
    assert "Illegal instruction" in result.message and "rebuild" in result.message
    assert "AMX_INT8" in result.system_info


@pytest.mark.slow
def test_generator_answers_a_long_prompt_in_a_child_process(models_home) -> None:
    """The test that would have caught the AMX crash: >= 512 prompt tokens through llama.cpp's
    batched matrix multiplication, in a child process, and an answer comes back."""
    pytest.importorskip("llama_cpp")
    from rag.generate.testing import find_smollm2_gguf

    gguf = find_smollm2_gguf(models_home)
    if gguf is None:
        if os.environ.get("CI"):
            pytest.fail("SmolLM2 not provisioned")
        pytest.skip("SmolLM2 not provisioned")
    result = check_llamacpp(gguf, prompt_tokens=600, max_tokens=12, timeout=300)
    assert result.ok, result.message
    assert result.prompt_tokens >= 512
    assert result.text.strip() and result.completion_tokens > 0
    assert result.prompt_tokens_per_s > 0 and result.decode_tokens_per_s > 0


@pytest.mark.slow
def test_rag_doctor_reports_the_build_and_passes(models_home, tmp_path) -> None:
    env = dict(os.environ, RAG_GENERATOR_MODEL="smollm2-135m-instruct-q4_1", RAG_HOME=str(tmp_path),
               RAG_MODELS_HOME=str(models_home))
    proc = subprocess.run([sys.executable, "-m", "rag.cli.main", "doctor", "--prompt-tokens", "520"],
                          capture_output=True, text=True, env=env, timeout=300, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    assert "llama.cpp build: CPU :" in proc.stdout and "AVX2 = 1" in proc.stdout
    assert "ok: " in proc.stdout and "prompt tokens" in proc.stdout


def test_prebuilt_native_code_is_kept_off_unusable_amx() -> None:
    """vLLM's CPU build and torch use oneDNN, which must stay below AMX where AMX cannot run."""
    assert cpu_features.safe_native_env({"avx2", "fma"}) == {}
    env = cpu_features.safe_native_env(cpu_features.cpu_flags(SPR_CPUINFO))
    usable, _ = cpu_features.probe_amx(cpu_features.cpu_flags(SPR_CPUINFO))
    assert env == ({} if usable else {"ONEDNN_MAX_CPU_ISA": "AVX512_CORE_BF16"})


def test_signal_deaths_are_named() -> None:
    assert cpu_features.signal_advice(0, "vllm serve") is None
    assert cpu_features.signal_advice(1, "vllm serve") is None
    assert "SIGKILL" in cpu_features.signal_advice(-9, "vllm serve")
    message = cpu_features.signal_advice(-int(signal.SIGILL), "vllm serve")
    assert "Illegal instruction" in message and "cpu_features.py" in message
