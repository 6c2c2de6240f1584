"""Start a real ``rag serve`` in a subprocess on a free loopback port (for the API tests)."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

#: The small generator keeps answers fast on a CPU.
SMALL_GENERATOR = "smollm2-135m-instruct-q4_1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def running_server(home: Path, models_home: Path, *, env: dict[str, str] | None = None,
                   wait_for: str = "/readyz", args: tuple[str, ...] = (), timeout: float = 180.0):
    """Yield the base URL of a server started with ``RAG_HOME=home``; stop it afterwards.

    The server's output goes to ``home/server.log`` and is shown if it fails to start.
    """
    home.mkdir(parents=True, exist_ok=True)
    port = free_port()
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")}
    full_env.update({
        "RAG_HOME": str(home),
        "RAG_MODELS_HOME": str(models_home),
        "RAG_GENERATOR_MODEL": SMALL_GENERATOR,
        "RAG_GENERATOR_CONTEXT_WINDOW": "2048",
        # One thread: llama.cpp's spinning threads slow down badly on a busy CI machine.
        "RAG_GENERATOR_THREADS": "1",
        # Short prompts: these tests check the plumbing, not the answers' quality.
        "RAG_DEFAULT_K": "2",
        "RAG_CHUNK_TOKENS": "100",
        "RAG_CHUNK_OVERLAP_TOKENS": "16",
        "TOKENIZERS_PARALLELISM": "false",
        **(env or {}),
    })
    log_path = home / "server.log"
    log = open(log_path, "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "rag.cli.main", "serve", "--host", "127.0.0.1", "--port", str(port),
         "--log-level", "warning", *args],
        cwd=home, env=full_env, stdout=log, stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"the server exited with {proc.returncode}:\n{log_path.read_text()[-3000:]}")
            try:
                if httpx.get(url + wait_for, timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"the server was not ready in {timeout:g} s:\n{log_path.read_text()[-3000:]}")
            time.sleep(0.25)
        yield url
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
