"""Parse untrusted files in a child process, with a wall-clock and a memory limit.

A hostile file (a PDF whose content stream takes minutes to parse, a decompression
bomb, a parser crash) then costs one per-file failure, never a hung or crashed
server. One child is kept and reused; it is replaced after a timeout or a crash.

Decompression inside a file is bounded twice: pypdf caps each stream's output
(75 MB by default), and the child's address-space limit caps the whole parse.
"""

from __future__ import annotations

import logging
import multiprocessing
import threading
from pathlib import Path

from ingest.loaders.base import LoadedDocument
from rag.errors import LoadError

log = logging.getLogger("ingest")


def _child(conn, memory_mb: int) -> None:  # pragma: no cover - runs in the child process
    """The child's loop: (path, max_bytes) in, ("ok", document) or ("error", reason) out."""
    if memory_mb:
        import resource

        limit = memory_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    from ingest.loaders.load import load_document

    while True:
        try:
            request = conn.recv()
        except EOFError:
            return
        if request is None:
            return
        path, max_bytes = request
        try:
            conn.send(("ok", load_document(Path(path), max_bytes=max_bytes)))
        except LoadError as exc:
            conn.send(("error", exc.message))
        except MemoryError:
            conn.send(("error", f"the file needs more than the {memory_mb} MB parsing memory limit (parse_memory_mb)"))


class IsolatedLoader:
    """``load_document`` run in a child process (spawned, so no thread state is inherited).

    Args:
        timeout: seconds one file may take; then the child is killed and the file fails.
        memory_mb: the child's address-space limit in MiB (0: none; POSIX only).

    Example:
        >>> load = IsolatedLoader(timeout=60)                    # doctest: +SKIP
        >>> load(Path("report.pdf"), max_bytes=None).pages[0]     # doctest: +SKIP
    """

    def __init__(self, timeout: float, memory_mb: int = 0) -> None:
        self.timeout = timeout
        self.memory_mb = memory_mb
        self._ctx = multiprocessing.get_context("spawn")
        self._process = None
        self._conn = None
        self._lock = threading.Lock()

    def __call__(self, path: Path, max_bytes: int | None = None) -> LoadedDocument:
        """Load one file; raises only :class:`LoadError` (timeouts and crashes included)."""
        with self._lock:
            conn = self._ensure_child()
            try:
                conn.send((str(path), max_bytes))
                if not conn.poll(self.timeout):
                    self._kill()
                    raise LoadError(f"parsing took longer than {self.timeout:g} s (parse_timeout): "
                                    "the file may be hostile or damaged")
                status, value = conn.recv()
            except (EOFError, OSError, BrokenPipeError):
                code = self._kill()
                raise LoadError(f"the parser crashed on this file (exit code {code})") from None
        if status == "error":
            raise LoadError(value)
        return value

    def _ensure_child(self):
        if self._process is None or not self._process.is_alive():
            self._kill()
            parent, child = self._ctx.Pipe()
            self._process = self._ctx.Process(target=_child, args=(child, self.memory_mb),
                                              name="rag-parse", daemon=True)
            self._process.start()
            child.close()
            self._conn = parent
        return self._conn

    def _kill(self) -> int | None:
        """Stop the child (if any); its exit code."""
        process, conn = self._process, self._conn
        self._process = self._conn = None
        if conn is not None:
            conn.close()
        if process is None:
            return None
        if process.is_alive():
            process.kill()
        process.join(5)
        return process.exitcode

    def close(self) -> None:
        """Stop the child process now (without waiting for a parse in progress, which then fails)."""
        process = self._process
        if process is not None and process.is_alive():
            process.kill()
