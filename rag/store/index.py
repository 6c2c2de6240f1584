"""The FAISS side of a collection: build, update, save and load the vector index.

Every index is an ``IndexIDMap2`` whose ids are SQLite chunk ids, over an exact
inner-product index (flat), HNSW or IVF. Vectors are unit length, so inner product
is cosine similarity. Files are written to a new name and published by atomically
replacing a small pointer file, so a reader never opens a half-written index.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from rag.errors import require

POINTER = "index.json"


def faiss_module():
    """The faiss module (the CPU or the GPU build, whichever extra is installed)."""
    return require("faiss", "cpu")


def choose_type(configured: str, n: int, threshold: int, ivf_threshold: int, current: str | None = None) -> str:
    """The index type for ``n`` vectors.

    ``auto``: exact (flat) below ``threshold`` chunks, HNSW from there, IVF from
    ``ivf_threshold``. An index already built (``current``) keeps its type until the
    size falls to half the boundary it crossed, so a collection hovering around a
    threshold is not rebuilt on every write.
    """
    if configured != "auto":
        if configured == "ivf" and n < 4096:
            return "flat"  # IVF needs enough vectors to train its centroids
        return configured
    kind = "flat" if n < threshold else "hnsw" if n < ivf_threshold else "ivf"
    if current == "hnsw" and kind == "flat" and n >= threshold // 2:
        return "hnsw"
    if current == "ivf" and kind == "hnsw" and n >= ivf_threshold // 2:
        return "ivf"
    return kind


@dataclass
class IndexParams:
    """How to build and search an index."""

    hnsw_m: int = 32
    hnsw_ef_search: int = 128
    ivf_nprobe: int = 16


def new_index(kind: str, dimension: int, params: IndexParams, train=None):
    """An empty id-mapped index of the given kind (IVF is trained on ``train``)."""
    faiss = faiss_module()
    if kind == "flat":
        inner = faiss.IndexFlatIP(dimension)
    elif kind == "hnsw":
        inner = faiss.IndexHNSWFlat(dimension, params.hnsw_m, faiss.METRIC_INNER_PRODUCT)
        inner.hnsw.efConstruction = 80
        inner.hnsw.efSearch = params.hnsw_ef_search
    elif kind == "ivf":
        # ~4·sqrt(n) lists, but at least 39 training points per list (FAISS's own minimum).
        nlist = max(16, min(int(4 * len(train) ** 0.5), len(train) // 39))
        quantizer = faiss.IndexFlatIP(dimension)
        inner = faiss.IndexIVFFlat(quantizer, dimension, nlist, faiss.METRIC_INNER_PRODUCT)
        inner.train(train)
        inner.nprobe = params.ivf_nprobe
    else:  # pragma: no cover - validated by Settings
        raise ValueError(f"unknown index type {kind!r}")
    index = faiss.IndexIDMap2(inner)
    return index


def set_threads(n: int) -> None:
    """OpenMP threads FAISS uses: one query searches faster on one thread when the CPU is
    busy (18.7 ms vs 43.8 ms p50 at 100k vectors, measured at load 3)."""
    faiss_module().omp_set_num_threads(n)


def save(index, folder: Path, generation: int, kind: str, dead=()) -> None:
    """Write the index for ``generation`` and publish it atomically.

    ``dead`` are tombstoned ids still in an HNSW graph (see :mod:`rag.store.live_index`);
    they are written to a file of their own, published by the same pointer.
    """
    import numpy as np

    faiss = faiss_module()
    folder.mkdir(parents=True, exist_ok=True)
    name = f"index-{generation:012d}.faiss"
    tmp = folder / (name + ".tmp")
    faiss.write_index(index, str(tmp))
    with open(tmp, "rb+") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, folder / name)
    meta = {"generation": generation, "file": name, "kind": kind, "ntotal": int(index.ntotal) - len(dead)}
    if dead:
        meta["dead"] = dead_name = f"index-{generation:012d}.dead.npy"
        with open(folder / (dead_name + ".tmp"), "wb") as fh:
            np.save(fh, np.fromiter(dead, dtype="int64", count=len(dead)))
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(folder / (dead_name + ".tmp"), folder / dead_name)
    pointer_tmp = folder / (POINTER + ".tmp")
    pointer_tmp.write_text(json.dumps(meta))
    with open(pointer_tmp, "rb+") as fh:
        os.fsync(fh.fileno())
    os.replace(pointer_tmp, folder / POINTER)
    _fsync_dir(folder)
    # Older files are no longer published; readers that already opened one keep their copy.
    for old in folder.glob("index-*"):
        if old.name not in (name, meta.get("dead")):
            old.unlink(missing_ok=True)


def load(folder: Path, params: IndexParams):
    """Load the published index; returns (index, generation, kind, dead ids) or None when there is none."""
    import numpy as np

    faiss = faiss_module()
    for _ in range(5):  # a writer may publish a newer file between reading the pointer and the file
        try:
            meta = json.loads((folder / POINTER).read_text())
            index = faiss.read_index(str(folder / meta["file"]))
            dead = np.load(folder / meta["dead"]).tolist() if meta.get("dead") else []
        except FileNotFoundError:
            if not (folder / POINTER).exists():
                return None
            continue
        except (ValueError, RuntimeError, KeyError, OSError, EOFError):
            return None  # unreadable index: the caller rebuilds it from the records
        kind = meta.get("kind", "flat")
        _apply_search_params(index, kind, params)
        return index, int(meta["generation"]), kind, dead
    return None


def published_generation(folder: Path) -> int | None:
    """The generation of the published index, without loading it."""
    try:
        return int(json.loads((folder / POINTER).read_text())["generation"])
    except (FileNotFoundError, ValueError, KeyError):
        return None


def _apply_search_params(index, kind: str, params: IndexParams) -> None:
    faiss = faiss_module()
    inner = faiss.downcast_index(index.index)
    if kind == "hnsw":
        inner.hnsw.efSearch = params.hnsw_ef_search
    elif kind == "ivf":
        inner.nprobe = params.ivf_nprobe


def _fsync_dir(folder: Path) -> None:
    from rag.store.durable import fsync_dir

    fsync_dir(folder)
