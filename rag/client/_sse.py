"""Decoding a server-sent event stream, line by line."""

from __future__ import annotations


class SSEDecoder:
    """Feed lines (without their newline); get ``(event, data)`` at each blank line."""

    def __init__(self) -> None:
        self.event: str | None = None
        self.data: list[str] = []

    def feed(self, line: str) -> tuple[str | None, str] | None:
        if not line:
            return self.flush()
        if line.startswith(":"):  # a comment / keep-alive
            return None
        field, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if field == "event":
            self.event = value
        elif field == "data":
            self.data.append(value)
        return None

    def flush(self) -> tuple[str | None, str] | None:
        """The pending event, if any (also call it at the end of the stream)."""
        if not self.data:
            self.event = None
            return None
        out = (self.event, "\n".join(self.data))
        self.event, self.data = None, []
        return out
