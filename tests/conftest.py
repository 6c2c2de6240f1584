"""Shared fixtures: settings in a temporary home, the real MiniLM encoder loaded once,
and the public evaluation data in ../shared/datasets."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DATASETS = ROOT.parent / "shared" / "datasets"

# Models are provisioned once into the checkout (`make test` does it); tests read them
# from there and keep their collections in temporary folders.
os.environ.setdefault("RAG_HOME", str(ROOT / ".rag-home"))
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


pytest_plugins = ("tests.file_order",)  # longest test files first, for `make test`'s workers


def pytest_collection_modifyitems(config, items):
    """Skip tests marked ``gpu`` on a machine without a CUDA device (torch is imported
    only when such a test was collected)."""
    gpu_items = [item for item in items if item.get_closest_marker("gpu")]
    if not gpu_items:
        return
    try:
        import torch

        has_cuda = torch.cuda.is_available()
    except ImportError:
        has_cuda = False
    if not has_cuda:
        for item in gpu_items:
            item.add_marker(pytest.mark.skip(reason="needs a CUDA device"))


def dataset(*parts: str) -> Path:
    """A path under ../shared/datasets; skips the test when the data is absent."""
    path = DATASETS.joinpath(*parts)
    if not path.exists():
        if os.environ.get("CI"):
            pytest.fail(f"evaluation data missing in CI: {path}")
        pytest.skip(f"evaluation data not found: {path}")
    return path


def scifact_files(folder: Path, n: int) -> Path:
    """The first ``n`` SciFact abstracts as text files (title, blank line, abstract) in ``folder``."""
    import json

    folder.mkdir(parents=True, exist_ok=True)
    with dataset("scifact", "corpus.jsonl").open() as fh:
        for _, line in zip(range(n), fh):
            rec = json.loads(line)
            (folder / f"{rec['doc_id']}.txt").write_text(rec["title"] + "\n\n" + " ".join(rec["abstract"]))
    return folder


@pytest.fixture(scope="session")
def models_home() -> Path:
    """Where provisioned models live (RAG_HOME/models)."""
    from rag.config import get_settings

    return get_settings().models_dir


@pytest.fixture
def settings(tmp_path, models_home):
    """Settings with a fresh home for collections and the shared model cache."""
    from rag.config import get_settings

    return get_settings(home=tmp_path / "home", models_home=models_home)


@pytest.fixture(scope="session")
def embedder(models_home):
    """The real all-MiniLM-L6-v2 encoder, loaded once per test session."""
    from rag.config import get_settings
    from rag.embed.sentence import SentenceTransformerEmbedder
    from rag.models import resolve

    settings = get_settings(models_home=models_home)
    try:
        resolve("all-MiniLM-L6-v2", settings, kind="encoder", auto_pull=False)
    except Exception as exc:  # noqa: BLE001 - report why, then skip/fail
        if os.environ.get("CI"):
            pytest.fail(f"MiniLM not provisioned: {exc}")
        pytest.skip(f"MiniLM not provisioned ({exc}); run `make test` or `rag models pull`")
    emb = SentenceTransformerEmbedder("all-MiniLM-L6-v2", settings)
    emb.warm_up()
    return emb


@pytest.fixture(scope="session")
def torch_embedder(embedder, models_home):
    """The same encoder run by torch in fp32 (the reference the ONNX backends are held to)."""
    from rag.config import get_settings
    from rag.embed.sentence import SentenceTransformerEmbedder

    emb = SentenceTransformerEmbedder("all-MiniLM-L6-v2", get_settings(models_home=models_home, encoder_backend="torch"))
    emb.warm_up()
    return emb


def provisioned_generator(models_home, name: str, **overrides):
    """A llama.cpp generator for a registry model that `make test` provisions; skips
    (or fails in CI) when the model is missing."""
    pytest.importorskip("llama_cpp", reason="install the 'llamacpp' extra")
    from rag.config import get_settings
    from rag.generate import make_generator
    from rag.models import resolve

    settings = get_settings(models_home=models_home, generator_model=name, **overrides)
    try:
        resolve(name, settings, kind="generator", auto_pull=False)
    except Exception as exc:  # noqa: BLE001
        if os.environ.get("CI"):
            pytest.fail(f"{name} is not provisioned: {exc}")
        pytest.skip(f"{name} is not provisioned ({exc})")
    return make_generator(settings)


@pytest.fixture(scope="session")
def small_generator(models_home):
    """The real SmolLM2-135M via llama.cpp, loaded once: fast, but too small for good answers."""
    return provisioned_generator(models_home, "smollm2-135m-instruct-q4_1", generator_context_window=2048)


@pytest.fixture(scope="session")
def default_generator(models_home):
    """The default answer model (Qwen2.5-Coder 1.5B via llama.cpp), loaded once."""
    return provisioned_generator(models_home, "qwen2.5-coder-1.5b-instruct-q4_k_m")
