#!/usr/bin/env bash
# Build and install llama-cpp-python so that it runs on this CPU and stays fast on it.
#
# llama.cpp's default build (GGML_NATIVE=ON, i.e. -march=native) also turns on AMX on
# CPUs that list it, and dies with "Illegal instruction" on VMs that list AMX but do
# not let processes use it. This script builds with GGML_NATIVE=OFF and turns on each
# SIMD level that /proc/cpuinfo reports (AVX2/FMA/F16C, AVX-512 with VNNI/BF16...),
# AMX only when asked for (LLAMA_AMX=1, or auto: where a child process ran AMX
# instructions; a CPU has passed that probe and still killed llama.cpp's AMX kernels),
# see rag/generate/cpu_features.py.
#
# The wheel is cached per version and flag set, so a rebuild happens only when either
# changes (pip's own cache keys wheels by version alone and would reuse a build made
# with other flags).
#
# Usage: scripts/llama_cpp/install.sh VENV
# Environment (all optional):
#   LLAMA_CPP_VERSION  llama-cpp-python version              (default 0.3.36)
#   LLAMA_CMAKE_ARGS   CMake options used instead of the detected ones, e.g.
#                      "-DGGML_NATIVE=OFF -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON"
#   LLAMA_AMX          0 (off; default) | 1 (on) | auto (on where the probe passes)
#   LLAMA_WHEEL_CACHE  where built wheels are kept           (default ~/.cache/groundrag/llama-cpp)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
VENV="${1:?usage: install.sh VENV}"
PY="$VENV/bin/python"
VERSION="${LLAMA_CPP_VERSION:-0.3.36}"
CACHE="${LLAMA_WHEEL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/groundrag/llama-cpp}"
STAMP="$VENV/.llama-cpp-build"

log() { printf '[llama-cpp %s] %s\n' "$(date +%T)" "$*"; }

if [[ -n "${LLAMA_CMAKE_ARGS:-}" ]]; then
    ARGS="$LLAMA_CMAKE_ARGS"
    log "CMake options from LLAMA_CMAKE_ARGS: $ARGS"
else
    "$PY" "$ROOT/rag/generate/cpu_features.py" | sed 's/^/[llama-cpp] /'
    ARGS="$("$PY" "$ROOT/rag/generate/cpu_features.py" --cmake-args)"
fi
# The multimodal library is not used by this product; skipping it saves build time.
[[ "$ARGS" == *LLAVA_BUILD* ]] || ARGS="$ARGS -DLLAVA_BUILD=OFF"

PYTAG="$("$PY" -c 'import sys; print(f"cp{sys.version_info[0]}{sys.version_info[1]}")')"
KEY="$(printf '%s\n%s\n%s\n' "$VERSION" "$ARGS" "$PYTAG" | sha256sum | cut -c1-16)"
WHEELS="$CACHE/$VERSION-$KEY"

if [[ -f "$STAMP" ]] && [[ "$(head -n1 "$STAMP")" == "$KEY" ]] \
        && "$PY" -c "import importlib.metadata as m; assert m.version('llama-cpp-python') == '$VERSION'" 2>/dev/null; then
    log "llama-cpp-python $VERSION already built for this CPU ($KEY)"
    exit 0
fi

if ! ls "$WHEELS"/llama_cpp_python-*.whl >/dev/null 2>&1; then
    log "compiling llama-cpp-python $VERSION (about 8 minutes on 2 cores, once per flag set)"
    tmp="$(mktemp -d "${TMPDIR:-/tmp}/llama-wheel.XXXXXX")"
    CMAKE_ARGS="$ARGS" "$VENV/bin/pip" wheel --quiet --no-deps --no-cache-dir \
        --no-binary llama-cpp-python -w "$tmp" "llama-cpp-python==$VERSION"
    mkdir -p "$CACHE"
    rm -rf "$WHEELS" && mv "$tmp" "$WHEELS"
    printf '%s\n' "$ARGS" > "$WHEELS/CMAKE_ARGS"
fi
log "installing $(basename "$WHEELS"/llama_cpp_python-*.whl)"
"$VENV/bin/pip" install --quiet --force-reinstall --no-deps "$WHEELS"/llama_cpp_python-*.whl
"$VENV/bin/pip" install --quiet "$WHEELS"/llama_cpp_python-*.whl  # its dependencies

# No AMX instruction may be in the library unless AMX was asked for.
LIB="$("$PY" -c 'import llama_cpp, pathlib; print(pathlib.Path(llama_cpp.__file__).parent / "lib")')"
if [[ "$ARGS" != *GGML_AMX_INT8=ON* ]] && command -v objdump >/dev/null; then
    if objdump -d "$LIB"/libggml-cpu*.so 2>/dev/null | grep -qE '\s(tilezero|ldtilecfg|tdpbssd)\s'; then
        log "error: the build contains AMX instructions although AMX is off: $ARGS" >&2
        exit 1
    fi
fi
printf '%s\n%s\n' "$KEY" "$ARGS" > "$STAMP"
log "done: $ARGS"
