"""Errors of the generator backends.

Temporary home: these belong in :mod:`rag.errors` (the foundation) and will move
there; import them from :mod:`rag.generate` so callers do not notice the move.
"""

from __future__ import annotations

from rag.errors import RagError


class GeneratorError(RagError):
    """The generator answered with an error (bad request, unknown model, malformed reply)."""

    type = "generator_error"
    status_code = 502
    exit_code = 9


class GeneratorUnavailableError(GeneratorError):
    """The generator cannot be reached or loaded (server down, overloaded, model file missing)."""

    type = "generator_unavailable"
    status_code = 503
    exit_code = 9
