"""The GPU path. FAISS: the fallback on this CPU-only faiss build, the wiring of the GPU copy
(with faiss's three GPU entry points stood in for, the one part that cannot run here),
and, marked ``gpu``, the real thing on a CUDA machine; the encoder on CUDA (``gpu``).
Run the GPU tests with ``pytest -m gpu tests/test_gpu_path.py`` on a CUDA machine."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from rag.errors import ConfigError
from rag.schemas import SearchFilters
from rag.store import CollectionManager, gpu
from tests.test_store import DIM, doc, unit

faiss = pytest.importorskip("faiss", reason="install the 'cpu' or 'gpu' extra")


@pytest.fixture(autouse=True)
def fresh_log(monkeypatch):
    monkeypatch.setattr(gpu, "_told", set())
    monkeypatch.setattr(gpu, "_resources", None)


def open_col(settings, name="c", **overrides):
    return CollectionManager(settings.model_copy(update=overrides)).open_or_create(
        name, embedding_model="m", dimension=DIM)


@pytest.mark.skipif(gpu.gpu_count(faiss) > 0, reason="a GPU is present: the fallback cannot be seen")
def test_auto_falls_back_to_cpu_with_one_log_line(settings, caplog):
    vecs = unit(20)
    with caplog.at_level(logging.INFO, logger="rag.store"):
        for name in ("a", "b"):
            with open_col(settings, name, index_device="auto") as col:
                col.commit([doc("d", vectors=vecs)])
                assert col.search(vecs[4], 1)[0].text == "d chunk 4"
                assert col.search(vecs[5], 1)[0].text == "d chunk 5"
    lines = [r.getMessage() for r in caplog.records if "FAISS searches on the CPU" in r.getMessage()]
    assert len(lines) == 1 and "no GPU support" in lines[0] and "'gpu' extra" in lines[0]


@pytest.mark.skipif(gpu.gpu_count(faiss) > 0, reason="a GPU is present")
def test_cuda_without_a_gpu_build_is_a_config_error(settings):
    with open_col(settings, index_device="cuda") as col:
        col.commit([doc("d", vectors=unit(4))])
        with pytest.raises(ConfigError, match="RAG_INDEX_DEVICE=cuda"):
            col.search(unit(1)[0], 1)


class StandInGpu:
    """faiss's GPU entry points: the "GPU copy" is a real CPU clone that counts its searches."""

    def __init__(self, monkeypatch):
        self.copies: list = []
        self.searches = 0
        monkeypatch.setattr(faiss, "get_num_gpus", lambda: 1, raising=False)
        monkeypatch.setattr(faiss, "StandardGpuResources", object, raising=False)
        monkeypatch.setattr(faiss, "index_cpu_to_gpu", self.copy, raising=False)

    def copy(self, resources, device, index):
        assert device == 0
        if isinstance(faiss.downcast_index(index.index), faiss.IndexHNSWFlat):
            raise RuntimeError("This index type is not implemented on GPU.")
        clone, stand_in = faiss.clone_index(index), self

        class Counted:
            ntotal = clone.ntotal

            def search(self, q, k, params=None):
                assert params is None, "filtered searches stay on the CPU"
                stand_in.searches += 1
                return clone.search(q, k)

        self.copies.append(clone)
        return Counted()


def test_unfiltered_searches_use_the_gpu_copy_made_again_after_a_write(settings, monkeypatch):
    fake = StandInGpu(monkeypatch)
    vecs = unit(30)
    with open_col(settings, index_device="auto") as col:
        (a,) = col.commit([doc("a", vectors=vecs[:10])])
        assert col.search(vecs[3], 1)[0].text == "a chunk 3"
        assert col.search(vecs[4], 1)[0].text == "a chunk 4"
        assert len(fake.copies) == 1 and fake.searches == 2  # one copy serves many searches
        col.commit([doc("b", vectors=vecs[10:])])
        assert col.search(vecs[15], 1)[0].text == "b chunk 5"  # the copy holds the new vectors
        assert len(fake.copies) == 2 and fake.copies[-1].ntotal == 30
        hits = col.search(vecs[15], 3, allowed=col.allowed_ids(SearchFilters(doc_ids=[a])))
        assert {h.source for h in hits} == {"a"} and fake.searches == 3  # filtered: on the CPU


def test_cpu_setting_never_copies_and_hnsw_stays_on_the_cpu(settings, monkeypatch, caplog):
    fake = StandInGpu(monkeypatch)
    vecs = unit(10)
    with open_col(settings, "flat", index_device="cpu") as col:
        col.commit([doc("a", vectors=vecs)])
        assert col.search(vecs[2], 1)[0].text == "a chunk 2"
    with caplog.at_level(logging.INFO, logger="rag.store"):
        with open_col(settings, "graph", index_device="auto", index_type="hnsw") as col:
            col.commit([doc("a", vectors=vecs)])
            assert col.search(vecs[2], 1)[0].text == "a chunk 2"
            assert col.search(vecs[3], 1)[0].text == "a chunk 3"
    assert fake.copies == [] and fake.searches == 0
    assert sum("no GPU HNSW" in r.getMessage() for r in caplog.records) == 1


@pytest.mark.gpu
def test_gpu_search_matches_cpu_search(settings):
    """On a CUDA machine with faiss-gpu: the same neighbours as the CPU index."""
    if not gpu.gpu_count(faiss):
        pytest.skip("needs faiss-gpu and a CUDA device")
    rng = np.random.default_rng(3)
    vecs = rng.standard_normal((5000, DIM)).astype("float32")
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    with open_col(settings, "on-gpu", index_device="cuda") as on_gpu, \
            open_col(settings, "on-cpu", index_device="cpu") as on_cpu:
        for col in (on_gpu, on_cpu):
            col.commit([doc(f"d{i}", vectors=vecs[i:i + 100]) for i in range(0, 5000, 100)])
        for q in vecs[:20]:
            assert [h.chunk_id for h in on_gpu.search(q, 5)] == [h.chunk_id for h in on_cpu.search(q, 5)]
        assert on_gpu._gpu_copy is not None and "Gpu" in type(faiss.downcast_index(on_gpu._gpu_copy.index)).__name__


@pytest.mark.gpu
def test_encoder_runs_on_cuda_and_agrees_with_cpu(settings, embedder):
    from rag.embed.sentence import SentenceTransformerEmbedder

    on_cuda = SentenceTransformerEmbedder("all-MiniLM-L6-v2", settings.model_copy(update={"device": "auto"}))
    texts = ["The encoder runs on the GPU.", "Zorblatt Industries grants 27 vacation days."]
    assert str(on_cuda._load().device).startswith("cuda")
    np.testing.assert_allclose(on_cuda.embed_batch(texts), embedder.embed_batch(texts), atol=2e-3)
