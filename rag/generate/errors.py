"""Errors of the generator backends (defined in :mod:`rag.errors`, re-exported here)."""

from rag.errors import GeneratorError, GeneratorUnavailableError

__all__ = ["GeneratorError", "GeneratorUnavailableError"]
