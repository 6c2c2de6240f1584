"""A reusable contract suite every :class:`~rag.verify.base.Verifier` must pass.

Subclass :class:`VerifierContract` in a test module and provide a ``verifier``
fixture; pytest collects the inherited tests. They check the protocol (shapes,
ranges, annotate's bookkeeping), not the quality of the verdicts.

Example::

    class TestLexical(VerifierContract):
        @pytest.fixture
        def verifier(self):
            return LexicalVerifier()
"""

from __future__ import annotations

from rag.schemas import AskResponse, ChunkHit, SentenceSupport

from .base import Verifier

EVIDENCE = "The warranty lasts two years from the date of purchase and covers parts and labour."
PAIRS = [("The warranty lasts two years.", EVIDENCE),
         ("The warranty lasts ten years and covers water damage.", EVIDENCE)]


def sample_response() -> AskResponse:
    """A two-sentence answer citing one passage, the second sentence unsupported."""
    hit = ChunkHit(chunk_id=1, doc_id=1, source="warranty.txt", title="warranty", page=None, start=0,
                   end=len(EVIDENCE), text=EVIDENCE, score=1.0)
    texts = ["The warranty lasts two years [1].", "It also covers water damage [1]."]
    return AskResponse(question="How long is the warranty?", collection="c", answer=" ".join(texts),
                       answerable=True, passages=[hit],
                       sentences=[SentenceSupport(text=t, markers=[1]) for t in texts])


class VerifierContract:
    """The expectations every verifier meets."""

    def test_is_a_verifier(self, verifier) -> None:
        assert isinstance(verifier, Verifier)
        assert isinstance(verifier.name, str) and verifier.name
        assert 0.0 <= verifier.threshold <= 1.0

    def test_scores_are_probabilities_in_order(self, verifier) -> None:
        scores = verifier.score(PAIRS)
        assert len(scores) == len(PAIRS)
        assert all(isinstance(s, float) and 0.0 <= s <= 1.0 for s in scores)
        assert verifier.score(PAIRS[:1]) == scores[:1]  # deterministic, pair by pair

    def test_no_pairs_no_scores(self, verifier) -> None:
        assert verifier.score([]) == []

    def test_annotate_marks_every_sentence(self, verifier) -> None:
        before = sample_response()
        after = verifier.annotate(before)
        assert after is not before and before.sentences[0].support is None  # the input is not changed
        assert all(s.support is not None and s.supported == (s.support >= verifier.threshold)
                   for s in after.sentences)
        assert after.groundedness is not None and 0.0 <= after.groundedness <= 1.0
