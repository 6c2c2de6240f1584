"""sentence-transformers encoder."""

from __future__ import annotations

import logging
import os
import threading
from contextlib import contextmanager
from typing import Sequence

from rag.errors import ModelUnavailableError, require


#: Encoder batch sizes when ``embed_batch_size`` is 0 (auto). On CPU a batch of 16 was both
#: faster and lighter than 64: MiniLM on 13 FinanceBench filings, torch 77 s / 986 MiB against
#: 85 s / 1,217 MiB, ONNX int8 37 s / 883 MiB against 41 s / 1,725 MiB (activations of a
#: batch of long chunks dominate peak memory). A GPU wants larger batches.
AUTO_BATCH = {"cpu": 16, "cuda": 64}
#: ... and with the onnx-int8 backend (the default on CPU), whose batches of 8 were faster still
#: and lighter on the same filings: 35.0-37.1 s / 757 MiB against 37.3-40.0 s / 885 MiB at 16.
AUTO_BATCH_INT8 = 8

log = logging.getLogger(__name__)


def pick_device(wanted: str) -> str:
    """``auto`` means CUDA when a GPU is present, else CPU."""
    if wanted != "auto":
        return wanted
    try:
        import torch

        return "cuda" if torch.cuda.is_available() else "cpu"
    except ImportError:  # pragma: no cover
        return "cpu"


class SentenceTransformerEmbedder:
    """A sentence-transformers model, loaded once on first use.

    ``model`` is a registry name (provisioned offline), a local folder, or a Hugging
    Face id (for users who can reach the hub).

    Example:
        >>> emb = SentenceTransformerEmbedder("all-MiniLM-L6-v2", settings)  # doctest: +SKIP
        >>> emb.embed_batch(["hello"]).shape  # doctest: +SKIP
        (1, 384)
    """

    def __init__(self, model: str, settings) -> None:
        self.name = model
        self._settings = settings
        self._model = None
        self._lock = threading.Lock()
        self._counter = None
        self._onnx = None
        self._device = "cpu"
        self._prompts: dict[str, str] = {}

    def warm_up(self) -> None:
        """Load the model now (otherwise it loads on first use)."""
        self._load()

    def _load(self):
        if self._model is not None:
            return self._model
        with self._lock:
            if self._model is None:
                from rag.models import resolve

                target = resolve(self.name, self._settings, kind="encoder")
                quiet_hub(local=not isinstance(target, str) or os.path.isdir(target))
                st = require("sentence_transformers", "engine")
                device = self._device = pick_device(self._settings.device)
                try:
                    model = st.SentenceTransformer(str(target), device=device)
                except OSError as exc:
                    raise ModelUnavailableError(
                        f"cannot load encoder '{self.name}': {exc}. "
                        f"Run `rag models pull {self.name}` or give a local folder."
                    ) from exc
                backend = getattr(self._settings, "encoder_backend", "torch")
                if backend != "torch" and device == "cpu":
                    from rag.embed.onnx import OnnxEncoder, unsupported

                    reason = unsupported(model)
                    if reason is None:
                        self._onnx = OnnxEncoder(model, onnx_cache_dir(target, self.name, self._settings),
                                                 int8=backend == "onnx-int8")
                    else:
                        log.warning("encoder '%s' runs in torch, not %s: %s", self.name, backend, reason)
                # Encoders trained with instructions (EmbeddingGemma: "task: search result |
                # query: ") name them in their config; the same text must precede every input.
                prompts = getattr(model, "prompts", None) or {}
                self._prompts = {role: prompts[role] for role in ("query", "document") if prompts.get(role)}
                self._model = model
        return self._model

    @property
    def dimension(self) -> int:
        model = self._load()
        dim = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        return int(dim())

    @property
    def max_tokens(self) -> int:
        """Longest input the encoder reads before it truncates."""
        return int(self._load().max_seq_length)

    @property
    def tokenizer(self):
        """The encoder's Hugging Face tokenizer."""
        return self._load().tokenizer

    @property
    def backend(self) -> str:
        """The backend that actually runs: the setting on CPU, torch on a GPU, and fp32
        ``onnx`` where the int8 export of this encoder disagreed with fp32."""
        self._load()
        if self._onnx is None:
            return "torch"
        return "onnx-int8" if self._onnx.int8 else "onnx"

    @property
    def batch_size(self) -> int:
        """Texts per encoder call: the setting, or the device's default when it is 0."""
        self._load()
        if self._settings.embed_batch_size:
            return self._settings.embed_batch_size
        return AUTO_BATCH_INT8 if self.backend == "onnx-int8" else AUTO_BATCH.get(self._device, 64)

    @property
    def prompts(self) -> dict[str, str]:
        """The text put before queries and documents (``{"query": ..., "document": ...}``;
        empty for encoders without instructions, such as MiniLM)."""
        self._load()
        return dict(self._prompts)

    def embed_batch(self, texts: Sequence[str], *, progress: bool = False):
        """Vectors of document chunks (with the encoder's document prompt, if it has one)."""
        return self._encode(texts, "document", progress=progress)

    def _encode(self, texts: Sequence[str], role: str, *, progress: bool = False, threads: int | None = None):
        """Unit vectors of ``texts`` with the ``role`` prompt; ``threads``: ONNX threads (default: torch's)."""
        import numpy as np

        model = self._load()
        if not texts:
            return np.zeros((0, self.dimension), dtype="float32")
        prompt = self._prompts.get(role)
        if self._onnx is not None:
            inputs = [prompt + t for t in texts] if prompt else list(texts)
            return self._onnx.encode(inputs, batch_size=self.batch_size, threads=threads or _cpu_threads())
        vectors = model.encode(
            list(texts),
            prompt=prompt,
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=progress,
        )
        return np.ascontiguousarray(vectors, dtype="float32")

    def embed_query(self, text: str):
        # One short text gains nothing from several threads, and on a busy CPU their
        # spin-waiting made it ~10x slower (250 ms vs 26 ms measured at load 3).
        self._load()
        if self._onnx is not None:
            return self._encode([text], "query", threads=self._settings.query_threads)[0]
        with torch_threads(self._settings.query_threads):
            return self._encode([text], "query")[0]

    def count_tokens(self, text: str) -> int:
        counter = self._counter
        if counter is None:
            from rag.models.tokens import token_counter

            counter = self._counter = token_counter(self.tokenizer)
        return counter(text)


def onnx_cache_dir(target, name: str, settings):
    """Where a model's ONNX export is kept: an ``onnx`` folder beside the model's files
    when that folder can be written, else under ``models_dir/onnx``."""
    from pathlib import Path

    if not isinstance(target, str) or os.path.isdir(target):
        folder = Path(target)
        if os.access(folder, os.W_OK):
            return folder / "onnx"
    return Path(settings.models_dir) / "onnx" / name.replace("/", "--")


def _cpu_threads() -> int:
    """As many threads as torch uses for a batch (the process's CPU budget)."""
    import torch

    return torch.get_num_threads()


@contextmanager
def torch_threads(n: int):
    """Run the block with ``n`` torch intra-op threads, then restore the previous count."""
    import torch

    before = torch.get_num_threads()
    if n == before:
        yield
        return
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def quiet_hub(*, local: bool) -> None:
    """Keep Hugging Face libraries off the network for local models, and quiet.

    Without this, loading even a local folder asks the hub for optional files and
    waits for network time-outs on a machine without access.
    """
    if local:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    try:
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        hf_logging.set_verbosity_error()
    except ImportError:  # pragma: no cover
        pass


# Tokenizers spawn their own thread pool; forking after that warns loudly.
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
