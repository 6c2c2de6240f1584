"""A GPU copy of a collection's FAISS index, for searching.

The CPU index stays the one that is written, saved and loaded (and the one that answers
filtered searches: the GPU indexes do not take an ``IDSelector``); a read-only copy on the
GPU answers the unfiltered searches when a GPU build of faiss sees a device
(``RAG_INDEX_DEVICE=auto``, the default, or ``cuda``). Flat and IVF indexes move; HNSW has
no GPU version in FAISS and stays on the CPU.

Without a GPU build or a device, ``auto`` logs one line and searches on the CPU;
``cuda`` raises :class:`rag.errors.ConfigError` instead, since the user asked for it.
"""

from __future__ import annotations

import logging
import threading

from rag.errors import ConfigError

log = logging.getLogger("rag.store")

_lock = threading.Lock()
_resources = None  # one StandardGpuResources per process: it holds the GPU's scratch memory
_told: set[str] = set()  # fallback reasons already logged (one line each per process)


def gpu_count(faiss) -> int:
    """GPUs this faiss build can use: 0 for a CPU-only build (no ``get_num_gpus``)."""
    probe = getattr(faiss, "get_num_gpus", None)
    if probe is None or not hasattr(faiss, "StandardGpuResources"):
        return 0
    try:
        return int(probe())
    except RuntimeError:  # a CUDA build without a driver
        return 0


def wants_gpu(faiss, device: str) -> bool:
    """Whether searches should run on GPU 0 for the ``index_device`` setting.

    Raises:
        ConfigError: ``device == "cuda"`` but faiss cannot use a GPU here.
    """
    if device == "cpu":
        return False
    if gpu_count(faiss):
        return True
    has_build = hasattr(faiss, "StandardGpuResources")
    why = ("this faiss build has no GPU support (install the 'gpu' extra instead of 'cpu')" if not has_build
           else "faiss sees no GPU")
    if device == "cuda":
        raise ConfigError(f"RAG_INDEX_DEVICE=cuda but {why}; set RAG_INDEX_DEVICE=auto or cpu")
    _tell(f"FAISS searches on the CPU: {why}")
    return False


def to_gpu(faiss, index, kind: str):
    """A copy of ``index`` on GPU 0, or None when its kind cannot move (logged once)."""
    global _resources
    if kind == "hnsw":
        _tell("FAISS keeps HNSW indexes on the CPU: FAISS has no GPU HNSW")
        return None
    try:
        with _lock:
            if _resources is None:
                _resources = faiss.StandardGpuResources()
        return faiss.index_cpu_to_gpu(_resources, 0, index)
    except (RuntimeError, AttributeError) as exc:
        _tell(f"FAISS keeps {kind} indexes on the CPU: the GPU copy failed ({str(exc).splitlines()[0][:200]})")
        return None


def _tell(message: str) -> None:
    with _lock:
        if message in _told:
            return
        _told.add(message)
    log.info(message)
