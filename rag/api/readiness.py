"""Readiness: the encoder and the generator are loaded (warmed up in the background)."""

from __future__ import annotations

import logging
import threading
import time

from rag.errors import RagError
from rag.schemas import Health

log = logging.getLogger("rag.api")


class Readiness:
    """``loading`` until the warm-up thread has loaded the models, then ``ok`` (or ``error``).

    Without warm-up the server is ready at once and models load on the first request.
    """

    #: Delay before the first retry of a failed warm-up, and the longest one.
    retry_seconds = 2.0
    max_retry_seconds = 30.0

    def __init__(self) -> None:
        self.status = "ok"
        self.detail: dict[str, str] = {"models": "load on first use"}
        self._thread: threading.Thread | None = None

    def start(self, service) -> None:
        """Load the models in a daemon thread."""
        self.status, self.detail = "loading", {"models": "loading"}
        self._thread = threading.Thread(target=self._warm_up, args=(service,), name="rag-warm-up", daemon=True)
        self._thread.start()

    def _warm_up(self, service) -> None:
        """Warm up; on failure (a generator server not up yet, or down) try again with a
        growing delay, so the server becomes ready by itself once the backend is back."""
        delay = self.retry_seconds
        while True:
            try:
                service.warm_up()
            except Exception as exc:  # noqa: BLE001 - reported by /readyz, the server stays up
                message = exc.message if isinstance(exc, RagError) else f"{type(exc).__name__}: {exc}"
                log.error("warm-up failed (trying again in %g s): %s", delay, message)
                self.status, self.detail = "error", {"models": "warm-up failed", "error": message}
                time.sleep(delay)
                delay = min(delay * 2, self.max_retry_seconds)
            else:
                self.status, self.detail = "ok", {"models": "loaded"}
                return

    def health(self) -> Health:
        return Health(status=self.status, detail=dict(self.detail))
