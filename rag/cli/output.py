"""Small helpers for what the CLI prints: tables for people, JSON for machines."""

from __future__ import annotations

import json
import sys
from typing import Any, Sequence

from pydantic import BaseModel


def print_json(obj: Any) -> None:
    """One JSON document on stdout."""
    if isinstance(obj, BaseModel):
        text = obj.model_dump_json()
    elif isinstance(obj, list) and obj and isinstance(obj[0], BaseModel):
        text = json.dumps([o.model_dump(mode="json") for o in obj])
    else:
        text = json.dumps(obj, default=str)
    sys.stdout.write(text + "\n")


def print_table(headers: Sequence[str], rows: Sequence[Sequence[Any]], *, max_width: int = 60) -> None:
    """A plain aligned text table on stdout."""
    cells = [[_clip(str(c), max_width) for c in row] for row in rows]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]
    line = "  ".join(h.ljust(w) for h, w in zip(headers, widths))
    print(line.rstrip())
    print("  ".join("-" * w for w in widths))
    for r in cells:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())


def _clip(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def human_bytes(n: int | None) -> str:
    """1536 → '1.5 KB'."""
    if n is None:
        return "-"
    size = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"  # pragma: no cover
