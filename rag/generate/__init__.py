"""Decoder-LLM generators behind one :class:`Generator` protocol.

Backends:

- ``llamacpp`` (default): a GGUF model in this process via llama-cpp-python
  (:class:`~rag.generate.llamacpp.LlamaCppGenerator`);
- ``openai``: any OpenAI-compatible server such as ``vllm serve``
  (:class:`~rag.generate.openai_compat.OpenAICompatGenerator`).

Importing this package is cheap: backends (and llama_cpp, httpx) load on use.

Example:
    >>> from rag.config import get_settings                         # doctest: +SKIP
    >>> gen = make_generator(get_settings(generator_backend="openai",
    ...                                   generator_base_url="http://127.0.0.1:8001/v1"))  # doctest: +SKIP
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rag.errors import ConfigError

from .base import ChatMessage, Chunk, Generation, Generator, GeneratorBase, yes_probability
from .errors import GeneratorError, GeneratorUnavailableError

if TYPE_CHECKING:
    from rag.config import Settings

__all__ = [
    "ChatMessage",
    "Chunk",
    "Generation",
    "Generator",
    "GeneratorBase",
    "GeneratorError",
    "GeneratorUnavailableError",
    "make_generator",
    "yes_probability",
]

BACKENDS = ("llamacpp", "openai")


def _setting(settings: Any, name: str, default: Any) -> Any:
    value = getattr(settings, name, default)
    return default if value is None else value


def make_generator(settings: Settings) -> Generator:
    """Build the configured generator; nothing loads or connects until first use.

    Settings read (all optional, ``RAG_`` env prefix): ``generator_backend``
    (``llamacpp``/``openai``), ``generator_model``, ``generator_context_window``,
    ``generator_threads``, ``generator_base_url``, ``generator_api_key``,
    ``generator_timeout``, ``generator_retries``, ``generator_tokenizer``,
    ``generator_recheck_seconds``. ``generator_base_url`` may list several replicas,
    separated by commas.

    For llama.cpp, ``generator_model`` is a GGUF path or a registry name
    (:mod:`rag.models`, default: the packaged Qwen2.5 1.5B); it is resolved, and
    pulled if missing, on first use rather than here.

    Raises:
        ConfigError: unknown backend.
    """
    backend = str(_setting(settings, "generator_backend", "llamacpp")).lower()
    model = str(_setting(settings, "generator_model", ""))
    window = int(_setting(settings, "generator_context_window", 4096))
    if backend == "llamacpp":
        from .llamacpp import LlamaCppGenerator

        def resolver(name: str):
            from rag.models import resolve

            return resolve(name, settings, "generator")

        if not model:
            from rag.models import DEFAULT_GENERATOR

            model = DEFAULT_GENERATOR
        threads = _setting(settings, "generator_threads", 0) or None
        return LlamaCppGenerator(model, n_ctx=window, n_threads=threads, resolver=resolver)
    if backend == "openai":
        from .openai_compat import OpenAICompatGenerator

        api_key = _setting(settings, "generator_api_key", None)
        if hasattr(api_key, "get_secret_value"):
            api_key = api_key.get_secret_value()
        return OpenAICompatGenerator(
            str(_setting(settings, "generator_base_url", "http://127.0.0.1:8001/v1")),
            model=model or None,
            api_key=api_key or None,
            timeout=float(_setting(settings, "generator_timeout", 120.0)),
            retries=int(_setting(settings, "generator_retries", 3)),
            context_window=window or None,
            tokenizer=str(_setting(settings, "generator_tokenizer", "")) or None,
            recheck_after=float(_setting(settings, "generator_recheck_seconds", 5.0)),
        )
    raise ConfigError(f"unknown generator backend {backend!r}; choose one of: {', '.join(BACKENDS)}")
