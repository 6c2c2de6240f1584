"""Which x86-64 instruction sets this CPU really offers, and the llama.cpp build flags for them.

llama.cpp built with ``GGML_NATIVE=ON`` compiles for ``-march=native``. On a VM whose
CPU *lists* AMX (``amx_tile amx_int8 amx_bf16``) but whose hypervisor does not let
processes use the tile state, that build dies with SIGILL ("Illegal instruction") at
the first batched matrix multiply. So the build is portable instead: ``GGML_NATIVE=OFF``
with each SIMD level this CPU reports turned on explicitly, and AMX only when asked for
(``LLAMA_AMX=1``, or ``auto``: when a child process has asked the kernel for the tile state and
run ``tilezero``; that probe is necessary, not sufficient).

This module uses the standard library only, so the build script runs it as a file
before the package is installed::

    python3 rag/generate/cpu_features.py --cmake-args     # the flags the build uses
    python3 rag/generate/cpu_features.py                  # a readable report

Environment: ``LLAMA_AMX`` = unset or ``0`` (off, the default), ``1`` (on), ``auto`` (on where
the probe passes; a CPU has been seen to pass it and still kill llama.cpp's AMX kernels).
"""

from __future__ import annotations

import argparse
import ctypes
import json
import mmap
import os
import platform
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

#: (ggml CMake option, /proc/cpuinfo flags that must all be present), in ISA order.
GGML_FLAG_MAP: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("GGML_SSE42", ("sse4_2",)),
    ("GGML_AVX", ("avx",)),
    ("GGML_F16C", ("f16c",)),
    ("GGML_FMA", ("fma",)),
    ("GGML_BMI2", ("bmi2",)),
    ("GGML_AVX2", ("avx2",)),
    ("GGML_AVX_VNNI", ("avx_vnni",)),
    ("GGML_AVX512", ("avx512f", "avx512cd", "avx512vl", "avx512dq", "avx512bw")),
    ("GGML_AVX512_VBMI", ("avx512vbmi",)),
    ("GGML_AVX512_VNNI", ("avx512_vnni",)),
    ("GGML_AVX512_BF16", ("avx512_bf16",)),
)
AMX_OPTIONS = ("GGML_AMX_TILE", "GGML_AMX_INT8", "GGML_AMX_BF16")
#: Why a CPU that lists AMX gets a build without it unless asked. Measured on a 2-core Xeon VM
#: (2026-12-02): the probe below passed (the kernel granted the tile state, ``tilezero`` ran in a
#: child, on every tile, across sleeps, threads and CPU migrations) and oneDNN's AMX kernels
#: (torch bf16) ran, yet llama.cpp's AMX matrix multiply died with SIGILL at ``tilezero`` on the
#: first batched prompt.
AMX_DEFAULT_OFF = ("off by default (llama.cpp's AMX kernels have died with SIGILL on a CPU where AMX passes a "
                   "probe); LLAMA_AMX=1 turns it on, LLAMA_AMX=auto turns it on where the probe passes")
AMX_FLAGS = ("amx_tile", "amx_int8", "amx_bf16")

# Linux arch_prctl request for the AMX tile data state (asm/prctl.h, xfeature 18).
_ARCH_REQ_XCOMP_PERM = 0x1023
_XFEATURE_XTILEDATA = 18
_SYS_ARCH_PRCTL = 158  # x86-64

# ldtilecfg (%rdi); tilezero %tmm0; tilerelease; ret
_AMX_CODE = bytes.fromhex("c4e2784907" "c4e27b49c0" "c4e27849c0" "c3")


def cpu_flags(cpuinfo: str | None = None) -> set[str]:
    """The ``flags`` of the first processor in ``/proc/cpuinfo`` (empty where there is none)."""
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
        except OSError:
            return set()
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "flags":
            return set(value.split())
    return set()


def _amx_child() -> int:
    """Runs in the probe's child: ask for the tile state, then execute AMX instructions.

    Exits 0 when they ran, 3 when the kernel refused the tile state; a SIGILL kills it.
    """
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.syscall(_SYS_ARCH_PRCTL, _ARCH_REQ_XCOMP_PERM, _XFEATURE_XTILEDATA) != 0:
        return 3
    buf = mmap.mmap(-1, mmap.PAGESIZE, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
    buf.write(_AMX_CODE)
    code = ctypes.c_void_p.from_buffer(buf)
    config = (ctypes.c_uint8 * 64)()
    config[0] = 1  # palette 1
    config[16] = 64  # tmm0: 64 bytes a row ...
    config[48] = 16  # ... 16 rows
    ctypes.CFUNCTYPE(None, ctypes.c_void_p)(ctypes.addressof(code))(ctypes.addressof(config))
    return 0


def probe_amx(flags: set[str] | None = None, timeout: float = 20.0) -> tuple[bool, str]:
    """Whether AMX can really run in a process here, and why (checked in a child process)."""
    flags = cpu_flags() if flags is None else flags
    if not set(AMX_FLAGS) <= flags:
        return False, "the CPU does not list AMX"
    if platform.machine() not in ("x86_64", "AMD64"):
        return False, f"not x86-64 ({platform.machine()})"
    try:
        proc = subprocess.run(
            [sys.executable, os.path.abspath(__file__), "--amx-child"],
            capture_output=True,
            timeout=timeout,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return False, f"the AMX probe did not finish: {exc}"
    if proc.returncode == 0:
        return True, "AMX tile instructions ran in a child process"
    if proc.returncode == 3:
        return False, "the CPU lists AMX but the kernel refuses the tile state (arch_prctl)"
    if proc.returncode < 0:
        return False, f"the CPU lists AMX but AMX instructions died with signal {-proc.returncode}"
    return False, f"the AMX probe failed (exit {proc.returncode}): {proc.stderr.decode(errors='replace')[-200:]}"


def safe_native_env(flags: set[str] | None = None) -> dict[str, str]:
    """Environment that keeps prebuilt native libraries (oneDNN in torch and vLLM's CPU
    build) off AMX where the CPU lists it but processes may not use it; empty elsewhere."""
    flags = cpu_flags() if flags is None else flags
    if not set(AMX_FLAGS) <= flags or probe_amx(flags)[0]:
        return {}
    return {"ONEDNN_MAX_CPU_ISA": "AVX512_CORE_BF16" if "avx512_bf16" in flags else "AVX2"}


def signal_advice(returncode: int, what: str) -> str | None:
    """A sentence for a process that died by a signal (negative ``returncode``), else None."""
    if returncode >= 0:
        return None
    import signal

    try:
        name = signal.Signals(-returncode).name
    except ValueError:
        name = f"signal {-returncode}"
    if name != "SIGILL":
        return f"{what} died with {name}"
    flags = cpu_flags()
    hint = (f"this CPU lists AMX but {probe_amx(flags)[1]}; set {safe_native_env(flags)} "
            if set(AMX_FLAGS) <= flags else "")
    return (f"{what} died with SIGILL (Illegal instruction): it uses an instruction this CPU or VM does not "
            f"allow; {hint}see `python3 rag/generate/cpu_features.py` for what this CPU offers")


@dataclass
class BuildPlan:
    """The llama.cpp CMake options for this CPU and why AMX is on or off."""

    options: dict[str, bool] = field(default_factory=dict)
    amx_reason: str = ""

    def cmake_args(self) -> str:
        """``-DGGML_NATIVE=OFF -DGGML_AVX2=ON ...`` for ``CMAKE_ARGS``."""
        parts = ["-DGGML_NATIVE=OFF"]
        parts += [f"-D{name}={'ON' if on else 'OFF'}" for name, on in self.options.items()]
        return " ".join(parts)

    def enabled(self) -> list[str]:
        """The instruction-set options turned on, in ISA order."""
        return [name.removeprefix("GGML_") for name, on in self.options.items() if on]


def build_plan(flags: set[str] | None = None, amx: str | None = None) -> BuildPlan:
    """The portable build for ``flags`` (default: this CPU). ``amx``: ``0``/empty (off, the
    default), ``1`` (on) or ``auto`` (on where :func:`probe_amx` passes)."""
    flags = cpu_flags() if flags is None else flags
    amx = (amx if amx is not None else os.environ.get("LLAMA_AMX", "")).strip().lower()
    options = {name: all(f in flags for f in needed) for name, needed in GGML_FLAG_MAP}
    if amx in ("1", "on", "yes", "true"):
        use_amx, reason = True, "forced on by LLAMA_AMX=1"
    elif amx in ("0", "off", "no", "false"):
        use_amx, reason = False, "turned off by LLAMA_AMX=0"
    elif amx == "auto":
        use_amx, reason = probe_amx(flags)
    elif not set(AMX_FLAGS) <= flags:
        use_amx, reason = False, "the CPU does not list AMX"
    else:
        use_amx, reason = False, AMX_DEFAULT_OFF
    for name in AMX_OPTIONS:
        options[name] = use_amx
    return BuildPlan(options=options, amx_reason=reason)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cmake-args", action="store_true", help="print only the CMake options")
    parser.add_argument("--json", action="store_true", help="print the plan as JSON")
    parser.add_argument("--amx-child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.amx_child:
        return _amx_child()
    plan = build_plan()
    if args.cmake_args:
        print(plan.cmake_args())
    elif args.json:
        print(json.dumps({"options": plan.options, "amx": plan.amx_reason, "cmake_args": plan.cmake_args()}))
    else:
        print(f"instruction sets: {' '.join(plan.enabled()) or 'none beyond x86-64'}")
        print(f"AMX: {'on' if plan.options.get('GGML_AMX_INT8') else 'off'} ({plan.amx_reason})")
        print(f"CMAKE_ARGS: {plan.cmake_args()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
