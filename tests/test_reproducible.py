"""The same files give the same collection, bit for bit; a collection built another way is refused."""

from __future__ import annotations

import json
import random
import time

import pytest

from ingest.loaders import load_document
from ingest.pipeline import Ingestor
from rag.errors import StaleCollectionError
from rag.store import CollectionManager

WORDS = ("turbine", "warehouse", "invoice", "salmon", "router", "glacier", "ledger", "orbit", "harvest", "violin")


@pytest.fixture
def many_files(tmp_path):
    folder = tmp_path / "docs"
    folder.mkdir()
    rng = random.Random(4)
    for i in range(24):
        text = " ".join(rng.choice(WORDS) for _ in range(rng.randint(20, 400))) + "."
        (folder / f"f{i:02d}.txt").write_text(f"Document {i}. {text}\n")
    return folder


def _vectors(settings, name: str) -> dict[str, list[bytes]]:
    """Each document's stored chunk vectors (the float32 bytes the FAISS index is built from)."""
    col = CollectionManager(settings).open(name)
    try:
        return {doc.source.rsplit("/", 1)[-1]: [v for (v,) in col.connection.execute(
                    "SELECT vector FROM chunks WHERE doc_id = ? ORDER BY ordinal", (doc.doc_id,))]
                for doc in col.documents()}
    finally:
        col.close()


def test_two_ingestions_store_identical_vectors_whatever_the_timing(many_files, embedder, tmp_path, models_home):
    """Parsing that stalls at random moments (as a loaded machine or a slow PDF does) must not
    change which chunks share an encoder batch, and so must not change a single bit."""
    from rag.config import get_settings

    def slow_load(path, *args, **kwargs):
        time.sleep(rng.choice([0.0, 0.0, 0.7]))
        return load_document(path, *args, **kwargs)

    stored = []
    for run, seed in enumerate((1, 2)):
        rng = random.Random(seed)
        settings = get_settings(home=tmp_path / f"home{run}", models_home=models_home)
        Ingestor(settings, embedder=embedder, load=slow_load).ingest([many_files], "same")
        stored.append(_vectors(settings, "same"))
    assert stored[0].keys() == stored[1].keys() and len(stored[0]) == 24
    for name in stored[0]:
        assert stored[0][name] == stored[1][name], name


def test_a_collection_built_by_another_recipe_is_refused_not_mixed(ingestor, settings, many_files, embedder):
    ingestor.ingest([many_files / "f00.txt"], "kb")
    col = CollectionManager(settings).open("kb")
    assert col.recipe == ingestor.recipe
    col.close()
    other = Ingestor(settings.model_copy(update={"chunk_tokens": 120}), embedder=embedder)
    with pytest.raises(StaleCollectionError, match="chunk_tokens 200 -> 120"):
        other.ingest([many_files / "f01.txt"], "kb")
    # An empty collection simply takes the new recipe.
    other.ingest([many_files / "f01.txt"], "fresh")
    assert CollectionManager(settings).open("fresh").recipe["chunk_tokens"] == 120


def test_a_collection_built_by_another_encoder_backend_is_refused_with_the_setting_to_use(
        settings, many_files, embedder, torch_embedder):
    """int8 and fp32 vectors agree only to cosine ~0.98: one collection holds one backend's."""
    assert embedder.backend == "onnx-int8"  # the default on CPU
    Ingestor(settings, embedder=torch_embedder).ingest([many_files / "f00.txt"], "kb")
    col = CollectionManager(settings).open("kb")
    assert col.recipe["encoder_backend"] == "torch"
    col.close()
    with pytest.raises(StaleCollectionError, match="encoder_backend torch -> onnx-int8.*RAG_ENCODER_BACKEND=torch"):
        Ingestor(settings, embedder=embedder).ingest([many_files / "f01.txt"], "kb")
    # A recipe recorded before the backend was (torch was the only default then) is a torch one.
    col = CollectionManager(settings).open("kb", writable=True)
    legacy = {k: v for k, v in col.recipe.items() if k != "encoder_backend"}
    col.manifest = {**col.manifest, "recipe": legacy}
    col.adopt_recipe({**legacy, "encoder_backend": "torch"})
    with pytest.raises(StaleCollectionError, match="encoder_backend torch -> onnx-int8"):
        col.adopt_recipe({**legacy, "encoder_backend": "onnx-int8"})
    col.close()


@pytest.fixture
def ingestor(settings, embedder):
    return Ingestor(settings, embedder=embedder)


@pytest.mark.slow
def test_the_same_spec_on_two_fresh_homes_gives_identical_answers(models_home, tmp_path):
    """What an evaluation promises: same spec, same machine, fresh RAG homes -> the same answers."""
    from eval.backends import InProcessBackend
    from eval.runner import run
    from eval.spec import Spec
    from rag.config import get_settings
    from tests.conftest import dataset

    dataset("squad2", "squad2_dev.json")
    answers = []
    for i in range(2):
        settings = get_settings(home=tmp_path / f"home{i}", models_home=models_home,
                                generator_model="smollm2-135m-instruct-q4_1", generator_context_window=2048)
        spec = Spec(name="repro", dataset="squad2", limit=6, seed=5, max_tokens=32)
        run(spec, InProcessBackend(settings), tmp_path / f"run{i}", progress=False)
        rows = [json.loads(line) for line in (tmp_path / f"run{i}" / "results.jsonl").read_text().splitlines()]
        answers.append({r["id"]: (r["prediction"], r["retrieved"], r.get("answerable_score")) for r in rows})
    assert len(answers[0]) == 6
    assert answers[0] == answers[1]
