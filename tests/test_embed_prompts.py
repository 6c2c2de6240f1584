"""Encoders with instructions (query / document prompts) and with layers after the pooling.

EmbeddingGemma is both: its config names "task: search result | query: " for queries and
"title: none | text: " for documents, and two Dense projections follow its mean pooling.
It is 1.2 GB, so these tests build the same shapes from the packaged MiniLM weights: a
copy whose config names prompts, and a copy with a Dense layer after the pooling.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")

PROMPTS = {"query": "task: search result | query: ", "document": "title: none | text: "}
DOCS = ["LDL cholesterol is lowered by statins, which inhibit HMG-CoA reductase.",
        "The Amazon rainforest spans nine countries in South America."]
QUESTION = "What do statins do to cholesterol?"


@pytest.fixture(scope="module")
def minilm(models_home) -> Path:
    source = models_home / "all-MiniLM-L6-v2"
    if not source.is_dir():
        pytest.skip("all-MiniLM-L6-v2 is not provisioned")
    return source


@pytest.fixture(scope="module")
def prompted(minilm, tmp_path_factory) -> Path:
    """MiniLM whose config names a query and a document prompt, as EmbeddingGemma's does."""
    folder = tmp_path_factory.mktemp("prompted") / "encoder"
    shutil.copytree(minilm, folder, ignore=shutil.ignore_patterns("onnx"))
    config_file = folder / "config_sentence_transformers.json"
    config = json.loads(config_file.read_text()) if config_file.exists() else {}
    config["prompts"] = PROMPTS
    config_file.write_text(json.dumps(config))
    return folder


@pytest.fixture(scope="module")
def projected(minilm, tmp_path_factory) -> Path:
    """MiniLM with a Dense projection after its pooling (seeded), saved as a model folder."""
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.models import Dense, Normalize

    base = SentenceTransformer(str(minilm), device="cpu")
    torch.manual_seed(0)
    model = SentenceTransformer(modules=[base[0], base[1], Dense(384, 256), Normalize()], device="cpu")
    folder = tmp_path_factory.mktemp("projected") / "encoder"
    model.save(str(folder))
    return folder


def _embedder(folder: Path, backend: str, tmp_path: Path):
    from rag.config import get_settings
    from rag.embed.sentence import SentenceTransformerEmbedder

    settings = get_settings(home=tmp_path / "home", models_home=tmp_path / "models", encoder_backend=backend,
                            device="cpu")
    return SentenceTransformerEmbedder(str(folder), settings)


def _reference(folder: Path, texts: list[str], prompt: str = "") -> np.ndarray:
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(folder), device="cpu")
    return model.encode([prompt + t for t in texts], normalize_embeddings=True, convert_to_numpy=True)


@pytest.mark.parametrize("backend, floor", [("torch", 0.9999), ("onnx", 0.9999), ("onnx-int8", 0.98)])
def test_queries_and_documents_get_their_prompts(prompted, tmp_path, backend, floor) -> None:
    embedder = _embedder(prompted, backend, tmp_path)
    assert embedder.prompts == PROMPTS
    assert embedder.backend == backend
    docs = embedder.embed_batch(DOCS)
    query = embedder.embed_query(QUESTION)
    want_docs = _reference(prompted, DOCS, PROMPTS["document"])
    want_query = _reference(prompted, [QUESTION], PROMPTS["query"])[0]
    assert (docs * want_docs).sum(axis=1).min() >= floor
    assert float(query @ want_query) >= floor
    # The prompt changes the vector: without it the query would be another point.
    bare = _reference(prompted, [QUESTION])[0]
    assert float(query @ bare) < 0.99
    assert int(np.argmax(docs @ query)) == 0


def test_an_encoder_without_prompts_embeds_the_text_alone(minilm, tmp_path) -> None:
    embedder = _embedder(minilm, "torch", tmp_path)
    assert embedder.prompts == {}
    assert float(embedder.embed_query(QUESTION) @ _reference(minilm, [QUESTION])[0]) >= 0.9999


def test_layers_after_the_pooling_run_in_torch_not_onnx(projected, tmp_path, caplog) -> None:
    # The ONNX export covers the transformer and the mean pooling only: it would drop the
    # Dense layer and return 384-d vectors that are not the model's.
    embedder = _embedder(projected, "onnx-int8", tmp_path)
    with caplog.at_level("WARNING", logger="rag.embed.sentence"):
        vectors = embedder.embed_batch(DOCS)
    assert embedder.backend == "torch"
    assert "Dense" in caplog.text and "runs in torch" in caplog.text
    assert vectors.shape == (2, 256) and embedder.dimension == 256
    assert (vectors * _reference(projected, DOCS)).sum(axis=1).min() >= 0.9999
    assert not (projected / "onnx").exists()


def test_asking_onnx_directly_for_such_a_model_is_a_clear_error(projected) -> None:
    from sentence_transformers import SentenceTransformer

    from rag.embed.onnx import OnnxEncoder
    from rag.errors import ModelUnavailableError

    model = SentenceTransformer(str(projected), device="cpu")
    with pytest.raises(ModelUnavailableError, match="followed by Dense.*RAG_ENCODER_BACKEND=torch"):
        OnnxEncoder(model, projected / "onnx", int8=False)


def test_the_recipe_records_prompts_only_for_encoders_that_have_them(prompted, minilm, tmp_path) -> None:
    from ingest.pipeline import Ingestor
    from rag.config import get_settings

    def recipe(folder: Path) -> dict:
        settings = get_settings(home=tmp_path / folder.parent.name, models_home=tmp_path / "models",
                                embedding_model=str(folder), encoder_backend="torch", device="cpu")
        return Ingestor(settings).recipe

    assert recipe(prompted)["encoder_prompts"] == PROMPTS
    assert "encoder_prompts" not in recipe(minilm)
