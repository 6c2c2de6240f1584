"""The llama.cpp generator against the real SmolLM2-135M-Instruct GGUF (loaded once per session)."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from rag.errors import ConfigError, ModelUnavailableError
from rag.generate import make_generator
from rag.generate.testing import SMOLLM2_SHA256, GeneratorContract, find_smollm2_gguf

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def smollm2_gguf() -> Path:
    """The SmolLM2 GGUF provisioned under .rag-home/models (or $RAG_TEST_SMOLLM2_GGUF)."""
    path = find_smollm2_gguf(ROOT / ".rag-home" / "models", Path(os.environ.get("RAG_HOME", ROOT / ".rag-home")))
    if path is None:
        if os.environ.get("CI"):
            pytest.fail("SmolLM2-135M GGUF not provisioned (set RAG_TEST_SMOLLM2_GGUF or provision .rag-home)")
        pytest.skip("SmolLM2-135M GGUF not provisioned under .rag-home/models")
    return path


@pytest.fixture(scope="session")
def smollm2(smollm2_gguf: Path):
    """One LlamaCppGenerator for the whole session."""
    pytest.importorskip("llama_cpp", reason="install the 'llamacpp' extra")
    from rag.generate.llamacpp import LlamaCppGenerator

    return LlamaCppGenerator(smollm2_gguf, n_ctx=2048)


class TestLlamaCppContract(GeneratorContract):
    @pytest.fixture
    def generator(self, smollm2):
        return smollm2


def test_gguf_checksum(smollm2_gguf: Path) -> None:
    assert hashlib.sha256(smollm2_gguf.read_bytes()).hexdigest() == SMOLLM2_SHA256


def test_cheap_to_construct_and_loads_once(smollm2) -> None:
    assert smollm2.context_window == 2048  # known without loading
    smollm2.generate([{"role": "user", "content": "Hi"}], max_tokens=2)
    model = smollm2._llm
    assert smollm2.loaded and model is not None
    smollm2.load()
    smollm2.count_tokens("again")
    assert smollm2._llm is model


def test_prompt_longer_than_window_is_refused(smollm2_gguf: Path) -> None:
    pytest.importorskip("llama_cpp")
    from rag.errors import InvalidInputError
    from rag.generate.llamacpp import LlamaCppGenerator

    small = LlamaCppGenerator(smollm2_gguf, n_ctx=64)
    with pytest.raises(InvalidInputError, match="context window is 64"):
        small.generate([{"role": "user", "content": "word " * 200}], max_tokens=4)
    # A completion that would overflow the window stops at its end instead of failing.
    out = small.generate([{"role": "user", "content": "Tell me a long story."}], max_tokens=500)
    assert out.finish_reason == "length"
    assert out.prompt_tokens + out.completion_tokens <= 64 + 1


def test_missing_file_fails_on_first_use_not_construction(tmp_path: Path) -> None:
    pytest.importorskip("llama_cpp")
    from rag.generate.llamacpp import LlamaCppGenerator

    gen = LlamaCppGenerator(tmp_path / "nope.gguf")
    with pytest.raises(ModelUnavailableError, match="nope.gguf"):
        gen.count_tokens("x")


def test_make_generator_is_lazy_and_resolves_registry_names(smollm2_gguf: Path) -> None:
    pytest.importorskip("llama_cpp")
    from rag.config import get_settings

    # Stands in for Settings until rag.config has the generator_* fields.
    settings = SimpleNamespace(
        generator_model="smollm2-135m", models_dir=get_settings().models_dir, generator_context_window=1024
    )
    gen = make_generator(settings)
    assert not gen.loaded and gen.context_window == 1024 and gen.name == "smollm2-135m"
    assert gen.count_tokens("hello world") >= 1  # first use resolves and loads
    assert gen.model_path.resolve() == smollm2_gguf.resolve()
    assert gen.name == "SmolLM2-135M-Instruct.Q4_1"


def test_make_generator_errors(tmp_path: Path) -> None:
    pytest.importorskip("llama_cpp")
    gen = make_generator(SimpleNamespace(generator_model="no-such-model", models_dir=tmp_path))
    with pytest.raises(ModelUnavailableError, match="no-such-model"):
        gen.count_tokens("x")
    with pytest.raises(ConfigError, match="unknown generator backend"):
        make_generator(SimpleNamespace(generator_backend="tgi", generator_model="x"))


def test_importing_rag_generate_does_not_import_llama_cpp() -> None:
    code = (
        "import sys, rag.generate, rag.generate.base, rag.generate.openai_compat;"
        "assert 'llama_cpp' not in sys.modules and 'httpx' not in sys.modules, sorted(sys.modules)"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)
