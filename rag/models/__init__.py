"""Model provisioning: named models, fetched offline from PyPI wheels, checked by sha256.

Use :func:`resolve` to turn a model setting (registry name, local path or hub id)
into what a loader accepts, :func:`pull` to fetch ahead of time and
:func:`list_models` to see what is in place. Only the standard library is used
here; nothing heavy is imported.
"""

from rag.models.provision import list_models, provisioned_path, pull, resolve
from rag.models.registry import (
    DEFAULT_ENCODER,
    DEFAULT_GENERATOR,
    MODELS,
    ModelSource,
    ModelSpec,
    WheelPart,
    find_spec,
    model_spec,
)

__all__ = [
    "DEFAULT_ENCODER",
    "DEFAULT_GENERATOR",
    "MODELS",
    "ModelSource",
    "ModelSpec",
    "WheelPart",
    "find_spec",
    "list_models",
    "model_spec",
    "provisioned_path",
    "pull",
    "resolve",
]
