"""The judge verifier end to end with the real SmolLM2-135M (plumbing only: SmolLM2 is
too small to judge well, so nothing here asserts that its verdicts are right)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from rag.verify.judge import JudgeVerifier
from rag.verify.testing import VerifierContract

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def smollm2():
    pytest.importorskip("llama_cpp", reason="install the 'llamacpp' extra")
    from rag.generate.llamacpp import LlamaCppGenerator
    from rag.generate.testing import find_smollm2_gguf

    path = find_smollm2_gguf(ROOT / ".rag-home" / "models", Path(os.environ.get("RAG_HOME", ROOT / ".rag-home")))
    if path is None:
        if os.environ.get("CI"):
            pytest.fail("SmolLM2-135M GGUF not provisioned")
        pytest.skip("SmolLM2-135M GGUF not provisioned under .rag-home/models")
    return LlamaCppGenerator(path, n_ctx=512)


class TestJudgeContract(VerifierContract):
    @pytest.fixture
    def verifier(self, smollm2):
        return JudgeVerifier(smollm2, threshold=0.5)


def test_judge_scores_are_probabilities(smollm2):
    judge = JudgeVerifier(smollm2, threshold=0.5)
    scores = judge.score([("Paris is the capital of France.", "Paris is the capital and largest city of France."),
                          ("Lyon is the capital of France.", "Paris is the capital and largest city of France.")])
    assert len(scores) == 2 and all(0.0 <= s <= 1.0 for s in scores)
    assert judge.name.startswith("judge:")


def test_long_evidence_is_cut_to_the_window(smollm2):
    judge = JudgeVerifier(smollm2, threshold=0.5)
    evidence = "The committee met on Tuesday and discussed the budget. " * 300  # far beyond 512 tokens
    msgs = judge.messages("The committee met on Tuesday.", evidence)
    assert smollm2.count_tokens(msgs[1]["content"]) < smollm2.context_window
    assert 0.0 <= judge.score([("The committee met on Tuesday.", evidence)])[0] <= 1.0


def test_judge_annotates_a_response_end_to_end(smollm2):
    from rag.schemas import AskResponse, ChunkHit, SentenceSupport

    hit = ChunkHit(chunk_id=1, doc_id=1, source="a.txt", title="a", page=None, start=0, end=40,
                   text="The warranty lasts two years from purchase.", score=1.0)
    resp = AskResponse(question="How long is the warranty?", collection="c", answer="It lasts two years [1].",
                       answerable=True, passages=[hit],
                       sentences=[SentenceSupport(text="It lasts two years [1].", markers=[1])])
    out = JudgeVerifier(smollm2, threshold=0.5, policy="flag").annotate(resp)
    s = out.sentences[0]
    assert 0.0 <= s.support <= 1.0 and s.supported == (s.support >= 0.5)
    assert out.groundedness in (0.0, 1.0)
