"""Start a real ``rag serve`` in a subprocess on a free loopback port (for the API tests)."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

#: The small generator keeps answers fast on a CPU.
SMALL_GENERATOR = "smollm2-135m-instruct-q4_1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    """A started ``rag serve`` process and its base URL."""

    proc: subprocess.Popen
    url: str
    log_path: Path
    log: object

    def kill(self) -> None:
        """kill -9, as a crash would."""
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        self.log.close()

    def stop(self) -> None:
        """Stop it as Ctrl-C would (kill -9 after 15 s)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def start_server(home: Path, models_home: Path, *, env: dict[str, str] | None = None,
                 wait_for: str = "/readyz", args: tuple[str, ...] = (), timeout: float = 180.0,
                 port: int | None = None) -> Server:
    """Start a server with ``RAG_HOME=home`` and wait until ``wait_for`` answers 200.

    The server's output goes to ``home/server.log`` (appended) and is shown if it fails to start.
    """
    home.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
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
    log = open(log_path, "a")
    proc = subprocess.Popen(
        [sys.executable, "-m", "rag.cli.main", "serve", "--host", "127.0.0.1", "--port", str(port),
         "--log-level", "warning", *args],
        cwd=home, env=full_env, stdout=log, stderr=subprocess.STDOUT,
    )
    server = Server(proc, f"http://127.0.0.1:{port}", log_path, log)
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            log.close()
            raise RuntimeError(f"the server exited with {proc.returncode}:\n{log_path.read_text()[-3000:]}")
        try:
            if httpx.get(server.url + wait_for, timeout=2).status_code == 200:
                return server
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            server.stop()
            raise RuntimeError(f"the server was not ready in {timeout:g} s:\n{log_path.read_text()[-3000:]}")
        time.sleep(0.25)


@contextlib.contextmanager
def running_server(home: Path, models_home: Path, *, env: dict[str, str] | None = None,
                   wait_for: str = "/readyz", args: tuple[str, ...] = (), timeout: float = 180.0):
    """Yield the base URL of a server started with ``RAG_HOME=home``; stop it afterwards."""
    server = start_server(home, models_home, env=env, wait_for=wait_for, args=args, timeout=timeout)
    try:
        yield server.url
    finally:
        server.stop()
