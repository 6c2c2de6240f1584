"""ONNX Runtime for a sentence-transformers encoder on CPU (``encoder_backend``).

sentence-transformers' own ``backend="onnx"`` needs ``optimum-onnx``, whose only
release pins transformers < 4.58; this project runs transformers 5. So the
transformer is exported here with ``torch.onnx`` (once, offline, from the loaded
model) and run with ONNX Runtime; tokenization, truncation and mean pooling stay
those of the sentence-transformers model, so vectors agree with torch (fp32: cosine
1.0; int8: >= 0.98, checked in tests/test_embed_onnx.py).
"""

from __future__ import annotations

import logging
import os
import tempfile
import threading
from pathlib import Path

from rag.errors import ModelUnavailableError, require

log = logging.getLogger(__name__)

_INPUTS = ("input_ids", "attention_mask", "token_type_ids")
#: The least cosine between an int8 vector and its fp32 one, over the probe texts, for
#: the int8 export to be used. MiniLM measured 0.990 (its real texts keep >= 0.98; int8
#: arithmetic moves by ~0.01 between CPUs, hence the margin); all-mpnet-base-v2 quantized
#: the same way gave -0.08: unrelated vectors.
INT8_FLOOR = 0.95
_PROBES = (
    "The cat sat on the mat.",
    "Aspirin lowers the risk of a first heart attack in adults over 50, a 2019 trial found.",
    "Net revenue rose 12% to $4.2 billion in fiscal 2022, driven by cloud services.",
    "FAISS searches dense vectors; BM25 ranks documents by the words they share with a query.",
    "Which file types can I ingest? PDF, plain text, Markdown and HTML.",
)


class OnnxEncoder:
    """Runs ``model`` (a loaded ``SentenceTransformer``) through ONNX Runtime.

    Args:
        model: the sentence-transformers model; its first module must be a
            Transformer and its pooling the mean of the token vectors.
        cache_dir: where ``model.onnx`` / ``model_int8.onnx`` are kept.
        int8: quantize the weights (dynamic, per channel, matrix products only).
    """

    def __init__(self, model, cache_dir: Path, *, int8: bool) -> None:
        _check_supported(model)
        self.model = model
        self.path = ensure_exported(model, Path(cache_dir), int8=int8)
        #: Whether int8 weights run (False when the int8 export disagreed with fp32).
        self.int8 = self.path.name == "model_int8.onnx"
        # sentence-transformers 6 renamed get_sentence_embedding_dimension to get_embedding_dimension.
        dimension = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        self._dimension = int(dimension())
        self._sessions: dict[int, object] = {}
        self._lock = threading.Lock()

    def session(self, threads: int):
        """An inference session with ``threads`` intra-op threads (one per count, kept)."""
        with self._lock:
            if threads not in self._sessions:
                ort = require("onnxruntime", "onnx")
                options = ort.SessionOptions()
                options.intra_op_num_threads = threads
                options.inter_op_num_threads = 1
                self._sessions[threads] = ort.InferenceSession(
                    str(self.path), options, providers=["CPUExecutionProvider"])
            return self._sessions[threads]

    def encode(self, texts: list[str], *, batch_size: int, threads: int):
        """Unit-length float32 vectors, one row per text (same order)."""
        import numpy as np

        session = self.session(threads)
        tokenizer, limit = self.model.tokenizer, int(self.model.max_seq_length)
        # Sorting by length keeps padding short, as sentence-transformers does.
        order = np.argsort([-len(t) for t in texts], kind="stable")
        out = np.empty((len(texts), self._dimension), dtype=np.float32)
        for i in range(0, len(texts), batch_size):
            rows = order[i:i + batch_size]
            enc = tokenizer([texts[j] for j in rows], padding=True, truncation=True, max_length=limit,
                            return_tensors="np")
            out[rows] = _mean_pooled(session, enc)
        return out


def _mean_pooled(session, enc):
    """Unit-length mean-pooled vectors of one tokenized batch ``enc`` run through ``session``."""
    import numpy as np

    feed = {name: enc[name].astype(np.int64) for name in _INPUTS if name in enc}
    if "token_type_ids" not in feed:
        feed["token_type_ids"] = np.zeros_like(feed["input_ids"])
    # An encoder that ignores an input (MPNet: token types) is exported without it.
    wanted = {i.name for i in session.get_inputs()}
    hidden = session.run(None, {name: value for name, value in feed.items() if name in wanted})[0]
    mask = feed["attention_mask"][..., None].astype(np.float32)
    pooled = (hidden * mask).sum(1) / np.clip(mask.sum(1), 1e-9, None)
    return pooled / np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)


def unsupported(model) -> str | None:
    """Why the ONNX backends cannot run ``model`` faithfully, or ``None`` when they can.

    The export covers the transformer and a mean over its token vectors, so the model
    must be exactly Transformer -> mean Pooling (-> Normalize). Anything after the
    pooling (EmbeddingGemma's Dense projections, for one) would be silently dropped,
    and its vectors would not be the model's.
    """
    from sentence_transformers.models import Normalize, Pooling, Transformer

    modules = list(model)
    pooling = modules[1] if len(modules) > 1 and isinstance(modules[1], Pooling) else None
    config = pooling.get_config_dict() if pooling is not None else {}
    # sentence-transformers 6 says pooling_mode="mean"; earlier ones pooling_mode_mean_tokens.
    mean = config.get("pooling_mode") == "mean" or config.get("pooling_mode_mean_tokens") is True
    if not (modules and isinstance(modules[0], Transformer) and mean):
        return "it is not a transformer with mean pooling"
    extra = [type(m).__name__ for m in modules[2:] if not isinstance(m, Normalize)]
    if extra:
        return f"its pooling is followed by {', '.join(extra)}, which the export leaves out"
    if getattr(model, "prompts", None) and config.get("include_prompt") is False:
        return "its pooling leaves out the prompt tokens"
    return None


def _check_supported(model) -> None:
    reason = unsupported(model)
    if reason is not None:
        raise ModelUnavailableError(
            f"the onnx encoder backends cannot run this model ({reason}); use RAG_ENCODER_BACKEND=torch")


def ensure_exported(model, cache_dir: Path, *, int8: bool) -> Path:
    """The cached ONNX file for ``model``, exported (and quantized) on first use.

    Files are written under a temporary name and renamed, so two processes exporting
    at once both end with a whole file.
    """
    fp32 = cache_dir / "model.onnx"
    if not fp32.exists():
        _export(model, cache_dir, fp32)
    if not int8:
        return fp32
    target = cache_dir / "model_int8.onnx"
    refused = cache_dir / "model_int8.refused"
    if not target.exists() and not refused.exists():
        require("onnx", "onnx")
        from onnxruntime.quantization import QuantType, quantize_dynamic

        tmp = _temp_path(cache_dir, ".onnx")
        # Per-channel weights on the matrix products only: quantizing the attention
        # products too (the default) gave cosine 0.90 to fp32 on SciFact abstracts.
        quantize_dynamic(str(fp32), str(tmp), weight_type=QuantType.QInt8, per_channel=True,
                         extra_options={"MatMulConstBOnly": True})
        agreement = int8_agreement(model, fp32, tmp)
        if agreement >= INT8_FLOOR:
            os.replace(tmp, target)
        else:
            tmp.unlink()
            note = _temp_path(cache_dir, ".txt")
            note.write_text(f"int8 vectors agree with fp32 to cosine {agreement:.4f} < {INT8_FLOOR}\n")
            os.replace(note, refused)
    if refused.exists() and not target.exists():
        log.warning("the int8 export of this encoder is refused (%s); it runs in fp32 ONNX instead "
                    "(RAG_ENCODER_BACKEND=onnx)", refused.read_text().strip())
        return fp32
    return target


def int8_agreement(model, fp32: Path, int8: Path) -> float:
    """The least cosine, over fixed probe texts, between the int8 export's vectors and fp32's."""
    ort = require("onnxruntime", "onnx")
    enc = model.tokenizer(list(_PROBES), padding=True, truncation=True, return_tensors="np")
    fp32_vectors, int8_vectors = (
        _mean_pooled(ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]), enc)
        for path in (fp32, int8))
    return float((fp32_vectors * int8_vectors).sum(1).min())


def _export(model, cache_dir: Path, target: Path) -> None:
    import torch

    cache_dir.mkdir(parents=True, exist_ok=True)
    transformer = model[0].auto_model

    class _Hidden(torch.nn.Module):  # keyword arguments: transformers 5 reordered forward()
        def __init__(self) -> None:
            super().__init__()
            self.inner = transformer

        def forward(self, input_ids, attention_mask, token_type_ids):
            return self.inner(input_ids=input_ids, attention_mask=attention_mask,
                              token_type_ids=token_type_ids).last_hidden_state

    sample = model.tokenizer(["a sample", "a longer sample sentence"], padding=True, return_tensors="pt")
    args = tuple(sample.get(name, torch.zeros_like(sample["input_ids"])) for name in _INPUTS)
    axes = {name: {0: "batch", 1: "tokens"} for name in (*_INPUTS, "last_hidden_state")}
    tmp = _temp_path(cache_dir, ".onnx")
    was = transformer.config._attn_implementation
    try:
        transformer.config._attn_implementation = "eager"  # exports everywhere; ORT fuses it
        with torch.no_grad():
            torch.onnx.export(_Hidden().eval().cpu(), args, str(tmp), input_names=list(_INPUTS),
                              output_names=["last_hidden_state"], dynamic_axes=axes, opset_version=17,
                              dynamo=False)
    finally:
        transformer.config._attn_implementation = was
    os.replace(tmp, target)


def _temp_path(folder: Path, suffix: str) -> Path:
    fd, name = tempfile.mkstemp(dir=folder, suffix=suffix, prefix=".partial-")
    os.close(fd)
    return Path(name)
