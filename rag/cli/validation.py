"""Turn pydantic validation errors into one-line user errors."""

from __future__ import annotations

from pydantic import ValidationError

from rag.errors import InvalidInputError


def build(model, **fields):
    """``model(**fields)``, raising :class:`InvalidInputError` with a readable message."""
    try:
        return model(**fields)
    except ValidationError as exc:
        raise InvalidInputError(describe(exc)) from None


def describe(exc: ValidationError) -> str:
    """'query: String should have at least 1 character; k: ...'."""
    parts = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"]) or "input"
        parts.append(f"{where}: {err['msg']}")
    return "; ".join(parts)
