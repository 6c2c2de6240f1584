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


_SYSTEM = {"role": "system", "content": "You answer questions using only the numbered passages below. "
           "If no passage answers the question, reply only: NOT FOUND"}


def _ask(question: str) -> list[dict[str, str]]:
    return [_SYSTEM, {"role": "user", "content": f"Passages:\n[1] Paris is the capital of France.\n\nQuestion: {question}"}]


def test_kept_system_prompt_changes_no_output(smollm2) -> None:
    """The system prompt's cache is kept between questions, and a question's scores and
    answer are bit-for-bit what it gets first thing after a reset, whatever came between."""
    capital, river = _ask("What is the capital of France?"), _ask("Which river flows through Paris?")
    smollm2._anchor = None  # as after loading: the next evaluation starts from an empty cache
    first = smollm2.first_token_logprobs(capital)
    assert smollm2.last_reused_tokens == 0
    answer = smollm2.generate(capital, max_tokens=12).text

    smollm2.first_token_logprobs(river)
    kept = smollm2.last_reused_tokens
    system_turn = smollm2.count_tokens(_SYSTEM["content"])
    assert system_turn < kept < system_turn + 16  # the system turn and its template markers
    smollm2.generate(river, max_tokens=12)
    assert smollm2.first_token_logprobs(capital) == first
    assert smollm2.last_reused_tokens == kept
    assert smollm2.generate(capital, max_tokens=12).text == answer
    smollm2.generate(river, max_tokens=12)  # a stream not scored first evaluates through the kept cache too
    assert smollm2.last_reused_tokens == kept
    assert smollm2.generate(capital, max_tokens=12).text == answer


def test_kept_cache_agrees_with_a_whole_evaluation(smollm2) -> None:
    """What is reused is the right cache: the scores match evaluating the prompt whole."""
    import numpy as np

    smollm2.first_token_logprobs(_ask("Which river flows through Paris?"))
    question = _ask("What is the capital of France?")
    reused = smollm2.first_token_logprobs(question)
    assert smollm2.last_reused_tokens > 0
    tokens, _ = smollm2._prompt(question)
    llm = smollm2._llm
    with smollm2._lock:
        llm.reset()
        smollm2._anchor = None
        llm.eval(tokens)
        whole = smollm2._last_logits(llm)
    logprobs = whole - np.logaddexp.reduce(whole)
    top = sorted(reused, key=reused.get, reverse=True)[:3]
    for piece in top:
        ids = [i for i in np.argsort(-logprobs)[:50] if llm.detokenize([int(i)], special=True).decode("utf-8", "replace") == piece]
        assert ids and abs(float(logprobs[ids[0]]) - reused[piece]) < 1e-3, piece


def test_one_message_prompts_are_evaluated_whole(smollm2) -> None:
    smollm2.first_token_logprobs([{"role": "user", "content": "Say hi."}])
    assert smollm2.last_reused_tokens == 0


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
