"""Domain errors.

The engine raises these; the edges (CLI, HTTP API) translate them into a one-line
message with a non-zero exit code or a structured error body. Each error carries a
stable ``type`` string that both edges use.
"""

from __future__ import annotations


class RagError(Exception):
    """Base class of every error the product raises on purpose."""

    type: str = "rag_error"
    #: HTTP status the API uses for this error.
    status_code: int = 500
    #: CLI exit code.
    exit_code: int = 1
    #: Seconds after which the request may succeed (the HTTP ``Retry-After`` header), if it may.
    retry_after: int | None = None

    def __init__(self, message: str, **details: object) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def to_dict(self) -> dict[str, object]:
        """The error as the ``error`` member of an HTTP error body."""
        return {"type": self.type, "message": self.message, **self.details}


class ConfigError(RagError):
    """A setting is missing or invalid."""

    type = "config_error"
    status_code = 500
    exit_code = 2


class InvalidInputError(RagError):
    """The user gave something the product cannot use (bad argument, empty query...)."""

    type = "invalid_input"
    status_code = 400
    exit_code = 2


class NotFoundError(RagError):
    """A named thing (collection, document, model) does not exist."""

    type = "not_found"
    status_code = 404
    exit_code = 3


class ConflictError(RagError):
    """The request conflicts with what is stored (name taken, model mismatch)."""

    type = "conflict"
    status_code = 409
    exit_code = 4


class ModelMismatchError(ConflictError):
    """A collection was built with another embedding model than the one asked for."""

    type = "model_mismatch"


class StaleCollectionError(ConflictError):
    """A collection's documents were chunked or embedded another way than ingestion would now do it."""

    type = "stale_collection"


class ModelUnavailableError(RagError):
    """A model is not provisioned and cannot be fetched or loaded."""

    type = "model_unavailable"
    status_code = 503
    exit_code = 5


class ProvisioningError(RagError):
    """Fetching or assembling a model's weights failed (missing part, bad checksum)."""

    type = "provisioning_error"
    status_code = 500
    exit_code = 5


class LoadError(RagError):
    """A document could not be read; the message is the reason shown to the user."""

    type = "load_error"
    status_code = 422
    exit_code = 6


class StoreError(RagError):
    """The collection store is damaged or could not be written."""

    type = "store_error"
    status_code = 500
    exit_code = 7


class ShardsUnavailableError(StoreError):
    """No shard of a sharded collection answered a search in time."""

    type = "shards_unavailable"
    status_code = 503
    retry_after = 5


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
    retry_after = 5


class MissingDependencyError(RagError, ImportError):
    """An optional dependency is not installed; the message names the extra."""

    type = "missing_dependency"
    status_code = 500
    exit_code = 8


def require(module: str, extra: str):
    """Import an optional module or raise :class:`MissingDependencyError` naming the extra.

    Example:
        >>> faiss = require("faiss", "engine")  # doctest: +SKIP
    """
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:  # pragma: no cover - exercised by test_optional
        raise MissingDependencyError(
            f"'{module}' is not installed: install the '{extra}' extra, "
            f"for example: pip install 'groundrag[{extra}]'"
        ) from exc
