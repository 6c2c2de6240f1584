"""Verifiers without a model: lexical features, annotate() policies, the factory, the calibration file."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from rag.answer.citations import ABSTENTION_MESSAGE, resolve_citations
from rag.errors import ConfigError
from rag.schemas import AskResponse, ChunkHit
from rag.verify import Verifier, make_verifier
from rag.verify.annotate import NOTHING_SUPPORTED
from rag.verify.calibration import load_calibration
from rag.verify.combined import CombinedVerifier
from rag.verify.features import FEATURES, features, numbers
from rag.verify.lexical import LexicalVerifier

EVIDENCE = ("Poseidon grossed $ 181,674,817 at the worldwide box office on a budget of $ 160 million. "
            "It was directed by Wolfgang Petersen and released in 2006.")


# --------------------------------------------------------------------------- numbers, names, paraphrase
@pytest.mark.parametrize("a, b", [("1,000", "1000"), ("1k", "1000"), ("$1 thousand", "1,000"),
                                  ("50%", "50 percent"), ("$160 million", "160,000,000"), ("2.5bn", "2,500,000,000")])
def test_numbers_normalise(a, b):
    assert numbers(a)[0][0] == numbers(b)[0][0]


def test_rounded_figure_matches_at_its_own_precision():
    assert features("It grossed $181.7 million.", EVIDENCE)["number_recall"] == 1.0
    assert features("It grossed $180 million.", EVIDENCE)["number_recall"] == 0.0


def test_a_changed_number_or_year_is_caught():
    lex = LexicalVerifier(threshold=0.5)
    right = "Poseidon was released in 2006 on a budget of $160 million."
    wrong_year = "Poseidon was released in 2004 on a budget of $160 million."
    wrong_money = "Poseidon was released in 2006 on a budget of $190 million."
    s = lex.score([(right, EVIDENCE), (wrong_year, EVIDENCE), (wrong_money, EVIDENCE)])
    assert s[0] > 0.8 and s[1] < s[0] / 1.5 and s[2] < s[0] / 1.5


def test_an_invented_name_is_caught():
    f_ok = features("Wolfgang Petersen directed Poseidon.", EVIDENCE)
    f_bad = features("Steven Spielberg directed Poseidon.", EVIDENCE)
    assert f_ok["entity_recall"] == 1.0 and f_bad["entity_recall"] < 0.5
    lex = LexicalVerifier(threshold=0.5)
    assert lex.score([("Steven Spielberg directed Poseidon.", EVIDENCE)])[0] < lex.score(
        [("Wolfgang Petersen directed Poseidon.", EVIDENCE)])[0]


def test_paraphrase_with_inflections_still_counts():
    f = features("The film was directed by Petersen and grosses exceeded the budget.",
                 "Petersen directs the film; its gross exceeds its budget.")
    assert f["content_recall"] == 1.0


def test_negation_the_evidence_lacks_is_flagged():
    assert features("Poseidon was not released in 2006.", EVIDENCE)["negation_mismatch"] == 1.0
    assert features("Poseidon was released in 2006.", EVIDENCE)["negation_mismatch"] == 0.0


def test_feature_names_are_stable():
    assert set(features("a", "b")) == set(FEATURES)


# --------------------------------------------------------------------------- annotate()
def _hit(n: int, text: str) -> ChunkHit:
    return ChunkHit(chunk_id=n, doc_id=1, source="/docs/poseidon.txt", title="poseidon", page=None,
                    start=0, end=len(text), text=text, score=1.0)


def _response(answer: str) -> AskResponse:
    passages = [_hit(1, "Poseidon was directed by Wolfgang Petersen and released in 2006."),
                _hit(2, "Poseidon grossed $181,674,817 on a budget of $160 million.")]
    citations, sentences = resolve_citations(answer, passages)
    return AskResponse(question="Tell me about Poseidon", collection="films", answer=answer, answerable=True,
                       citations=citations, passages=passages, sentences=sentences)


ANSWER = ("Poseidon was directed by Wolfgang Petersen [1]. "
          "It had a budget of $160 million [2]. "
          "It won three Academy Awards for Steven Spielberg [2].")


def test_flag_keeps_the_answer_and_marks_each_sentence():
    out = LexicalVerifier(threshold=0.6, policy="flag").annotate(_response(ANSWER))
    assert out.answer == ANSWER and out.answerable
    assert [s.supported for s in out.sentences] == [True, True, False]
    assert all(0.0 <= s.support <= 1.0 for s in out.sentences)
    # Length-weighted: the unsupported third sentence is the longest.
    lengths = [len(s.text.split("[")[0].strip()) for s in out.sentences]
    assert out.groundedness == pytest.approx((lengths[0] + lengths[1]) / sum(lengths), abs=0.02)


def test_evidence_is_the_cited_passage():
    # True of passage 1, but it cites passage 2 only.
    out = LexicalVerifier(threshold=0.6).annotate(_response("Poseidon was directed by Wolfgang Petersen [2]."))
    assert out.sentences[0].supported is False


def test_uncited_sentence_is_checked_against_all_passages():
    out = LexicalVerifier(threshold=0.6).annotate(_response("Poseidon was directed by Wolfgang Petersen."))
    assert out.sentences[0].supported is True


def test_remove_drops_unsupported_sentences_and_their_citations():
    answer = "Poseidon was directed by Wolfgang Petersen [1]. It won three Academy Awards for Steven Spielberg [2]."
    out = LexicalVerifier(threshold=0.6, policy="remove").annotate(_response(answer))
    assert out.answer == "Poseidon was directed by Wolfgang Petersen [1]."
    assert [c.marker for c in out.citations] == [1]
    assert len(out.sentences) == 2 and out.sentences[1].supported is False  # still reported


def test_remove_everything_turns_into_an_abstention():
    out = LexicalVerifier(threshold=0.6, policy="remove").annotate(
        _response("It won three Academy Awards for Steven Spielberg [2]."))
    assert not out.answerable and out.answer == ABSTENTION_MESSAGE
    assert out.reason == NOTHING_SUPPORTED and out.citations == []


def test_marker_only_fragments_are_not_scored():
    resp = _response("Poseidon was directed by Wolfgang Petersen. [1]")
    resp = resp.model_copy(update={"sentences": resp.sentences + [resp.sentences[0].model_copy(
        update={"text": "[2]", "markers": [2]})]})
    out = LexicalVerifier(threshold=0.6).annotate(resp)
    assert out.sentences[-1].support is None


def test_abstentions_come_back_unchanged():
    resp = AskResponse(question="q", collection="c", answer=ABSTENTION_MESSAGE, answerable=False)
    assert LexicalVerifier().annotate(resp) == resp


# --------------------------------------------------------------------------- factory and calibration file
def test_calibration_file_loads_with_weights_and_thresholds():
    cal = load_calibration()
    for name in ("lexical", "combined"):
        assert 0.0 <= cal["verifiers"][name]["threshold"] <= 1.0
        assert "faithbench" not in cal["verifiers"][name]["fitted_on"]  # non-commercial: never fitted on
    assert cal["verifiers"]["combined"]["model"]["features"] == list(FEATURES)
    assert CombinedVerifier().threshold == pytest.approx(cal["verifiers"]["combined"]["threshold"])


def test_factory_builds_each_kind_without_loading_anything():
    assert isinstance(make_verifier(SimpleNamespace()), CombinedVerifier)  # the default
    lex = make_verifier(SimpleNamespace(verifier="lexical", support_threshold=0.4, unsupported_policy="remove"))
    assert isinstance(lex, Verifier) and lex.threshold == 0.4 and lex.policy == "remove"
    assert make_verifier(SimpleNamespace(verifier="none")) is None
    nli = make_verifier(SimpleNamespace(verifier="nli", verifier_model="some/cross-encoder"))
    assert nli.name == "nli:some/cross-encoder" and nli._model is None


@pytest.mark.parametrize("attrs", [{"verifier": "magic"}, {"unsupported_policy": "hide"}, {"verifier": "nli"},
                                   {"verifier": "lexical", "support_threshold": 1.5}])
def test_factory_rejects_bad_settings(attrs):
    with pytest.raises(ConfigError):
        make_verifier(SimpleNamespace(**attrs))


@pytest.mark.slow
def test_nli_model_that_cannot_load_is_a_clear_error(tmp_path):
    pytest.importorskip("sentence_transformers")
    from rag.errors import ModelUnavailableError
    from rag.verify.nli import NLIVerifier

    with pytest.raises(ModelUnavailableError, match="could not be loaded"):
        NLIVerifier(str(tmp_path / "no-such-model")).score([("claim", "evidence")])


# --------------------------------------------------------------------------- the Protocol's contract
from rag.verify.testing import VerifierContract  # noqa: E402


class TestLexicalContract(VerifierContract):
    @pytest.fixture
    def verifier(self):
        return LexicalVerifier()


class TestCombinedContract(VerifierContract):
    @pytest.fixture
    def verifier(self):
        return CombinedVerifier()
