"""Structured JSON logs, each line with the id of the request being served
(set by :class:`rag.api.observe.ObserveMiddleware`)."""

from __future__ import annotations

import contextvars
import json
import logging
import sys
from datetime import datetime, timezone

#: The id of the request being served (in the task and threads that serve it).
request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request id, and any ``extra`` fields."""

    _STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}

    def format(self, record: logging.LogRecord) -> str:
        line = {"time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
                "level": record.levelname.lower(), "logger": record.name, "message": record.getMessage(),
                "request_id": getattr(record, "request_id", None) or request_id.get()}
        line.update({k: v for k, v in vars(record).items() if k not in self._STANDARD and k not in line})
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


def configure_logging(level: str = "info") -> None:
    """Send the ``rag`` loggers to stderr as JSON lines (once per process)."""
    logger = logging.getLogger("rag")
    if any(getattr(h, "_rag_json", False) for h in logger.handlers):
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    handler._rag_json = True  # type: ignore[attr-defined]
    logger.addHandler(handler)
    logger.setLevel(level.upper())
    logger.propagate = False
