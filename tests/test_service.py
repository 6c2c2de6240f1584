"""The query service end to end in-process: real MiniLM, FAISS, bm25s, and SmolLM2 via llama.cpp."""

from __future__ import annotations

import pytest

from ingest.pipeline import Ingestor
from rag.errors import InvalidInputError, NotFoundError
from rag.pipeline import RAGService
from rag.schemas import AskRequest, RetrieveRequest, SearchFilters


class Counting:
    """Wraps the real generator to count calls (the model itself still runs)."""

    def __init__(self, inner):
        self.inner, self.calls = inner, 0

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def stream(self, *a, **kw):
        self.calls += 1
        return self.inner.stream(*a, **kw)


@pytest.fixture(scope="module")
def kb_settings(tmp_path_factory, models_home, embedder):
    """A collection 'kb' of three small documents, ingested once for the module."""
    from rag.config import get_settings

    tmp_path = tmp_path_factory.mktemp("kb")
    settings = get_settings(home=tmp_path / "home", models_home=models_home)
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "lyon.txt").write_text("The warehouse in Lyon stores spare turbine blades. It opened in 2019.")
    (docs / "router.md").write_text("# Router guide\n\nTo reset the router, hold the red button for ten seconds.")
    (docs / "canteen.html").write_text("<html><body><main><p>On Fridays the canteen serves grilled salmon.</p></main></body></html>")
    Ingestor(settings, embedder=embedder).ingest([docs / "lyon.txt", docs / "router.md"], "kb", tags=["ops"])
    Ingestor(settings, embedder=embedder).ingest([docs / "canteen.html"], "kb", tags=["food"])
    return settings


@pytest.fixture
def service(kb_settings, embedder, small_generator):
    svc = RAGService(kb_settings, embedder=embedder, generator=Counting(small_generator))
    yield svc
    svc.close()


@pytest.mark.parametrize("mode", ["dense", "bm25", "hybrid"])
def test_each_mode_finds_the_passage(service, mode):
    hits = service.retrieve("kb", RetrieveRequest(query="how to reset the router", k=2, mode=mode)).hits
    assert hits[0].source.endswith("router.md")
    if mode == "hybrid":
        assert hits[0].dense_score is not None and hits[0].lexical_score is not None


def test_filters(service):
    food = service.retrieve("kb", RetrieveRequest(query="router reset", k=5, filters=SearchFilters(tags=["food"]))).hits
    assert {h.source.rsplit("/", 1)[1] for h in food} == {"canteen.html"}
    by_path = service.retrieve("kb", RetrieveRequest(query="blades", k=5, filters=SearchFilters(source="*/lyon.*"))).hits
    assert by_path and all(h.source.endswith("lyon.txt") for h in by_path)
    none = service.retrieve("kb", RetrieveRequest(query="blades", k=5, filters=SearchFilters(doc_ids=[999]))).hits
    assert none == []


def test_stream_events_come_in_order(service):
    events = list(service.ask_stream("kb", AskRequest(query="How do I reset the router?", max_tokens=40)))
    kinds = [e.event for e in events]
    assert kinds[0] == "passages" and kinds[-1] == "done"
    assert set(kinds[1:-1]) <= {"token"}
    final = events[-1].response
    if final.answerable:
        assert "".join(e.delta for e in events if e.event == "token").strip() == final.answer
        for c in final.citations:
            assert c.quote in final.passages[c.marker - 1].text
    assert final.timings["retrieve"] >= 0 and final.model


def test_weak_evidence_abstains_without_calling_the_model(service):
    service.settings = service.settings.model_copy(update={"min_relevance": 0.99})
    response = service.ask("kb", AskRequest(query="Who won the 1998 football world cup?"))
    assert not response.answerable and "similarity" in response.reason
    assert service.generator.calls == 0


def test_bad_requests(service):
    with pytest.raises(NotFoundError):
        service.ask("nope", AskRequest(query="x"))
    with pytest.raises(InvalidInputError):
        service.retrieve("kb", RetrieveRequest(query="   "))


def test_every_asked_answer_carries_its_answerable_score(service):
    response = service.ask("kb", AskRequest(query="How do I reset the router?", max_tokens=24))
    assert response.answerable_score is not None and 0.0 <= response.answerable_score <= 1.0
    assert response.first_tokens and all(lp <= 1e-6 for lp in response.first_tokens.values())
    from rag.answer.answerability import answerable_score

    assert response.answerable_score == pytest.approx(answerable_score(response.first_tokens))


def test_below_the_threshold_it_abstains_before_generating(service):
    service.settings = service.settings.model_copy(update={"answerable_threshold": 1.0, "min_relevance": -1.0})
    response = service.ask("kb", AskRequest(query="What is the capital of Australia?", max_tokens=24))
    assert not response.answerable and "answerable score" in response.reason
    assert response.answerable_score is not None  # the score that fell at or below the threshold
    assert service.generator.calls == 0  # an abstention generates nothing


def test_passages_far_behind_the_best_are_not_read(service):
    """The router guide answers alone; the other two documents score far below it, so under
    the cut-off the model reads one passage, and all three without it or outside hybrid
    search. The threshold 1.0 abstains after the prompt is read: no answer is generated."""
    base = {"answerable_threshold": 1.0, "min_relevance": -1.0, "min_passages": 1}
    question = AskRequest(query="How do I reset the router?", k=3, max_tokens=8)
    hits = service.retrieve("kb", question).hits
    assert len(hits) == 3 and hits[1].score < 0.8 * hits[0].score, "the test needs one clear best passage"

    service.settings = service.settings.model_copy(update={**base, "passage_cutoff": 0.8})
    read = service.ask("kb", question).passages
    assert [p.source.rsplit("/", 1)[1] for p in read] == ["router.md"]
    service.settings = service.settings.model_copy(update={**base, "passage_cutoff": 0.0})
    assert len(service.ask("kb", question).passages) == 3
    service.settings = service.settings.model_copy(update={**base, "passage_cutoff": 0.8})
    assert len(service.ask("kb", question.model_copy(update={"mode": "dense"})).passages) == 3, \
        "cosines are not on the hybrid scale: the cut-off leaves them alone"
    assert service.generator.calls == 0


def test_above_the_threshold_the_reply_does_not_start_with_not_found(service):
    service.settings = service.settings.model_copy(update={"answerable_threshold": 1e-6, "min_relevance": -1.0})
    response = service.ask("kb", AskRequest(query="What colour is the sky on Mars?", max_tokens=24))
    assert service.generator.calls == 1
    if not response.answerable:  # the model may still write a sentence that says so...
        assert response.reason == "the model found no answer in the passages"
    assert not response.answer.upper().startswith("NOT FOUND")  # ...but never the bare NOT FOUND reply


def test_remove_policy_streams_only_what_verification_kept(service):
    from rag.verify import make_verifier

    service.settings = service.settings.model_copy(update={"unsupported_policy": "remove", "verifier": "lexical"})
    service._verifier = make_verifier(service.settings, None)
    events = list(service.ask_stream("kb", AskRequest(query="How do I reset the router?", max_tokens=40)))
    final = events[-1].response
    streamed = "".join(e.delta for e in events if e.event == "token")
    assert streamed == (final.answer if final.answerable else "")
    assert sum(e.event == "token" for e in events) <= 1


def test_an_answer_whose_passages_never_mention_the_asked_year_is_withdrawn(service):
    """The Lyon passage is on topic but says 2019; the question asks about 1987."""
    service.settings = service.settings.model_copy(update={"answerable_threshold": 1e-6, "min_relevance": -1.0})
    response = service.ask("kb", AskRequest(query="What did the warehouse in Lyon store in 1987?", max_tokens=24))
    assert service.generator.calls == 1  # steered past NOT FOUND, the model answered...
    assert not response.answerable  # ...and the answer was withdrawn
    assert "1987" in response.reason or response.reason == "the model found no answer in the passages"


class MisNumbering(Counting):
    """The real model scores the prompt; its reply is replaced by a right sentence that
    numbers the wrong passage, the mistake small models make (RAGService must repair it)."""

    def stream(self, messages, **kw):
        import re

        self.calls += 1
        blocks = re.findall(r"^\[(\d+)\] \(from \"[^\"]*\"\)\n(.*)$", messages[-1]["content"], re.MULTILINE)
        wrong = next(n for n, text in blocks if "2019" not in text)
        yield f"The Lyon warehouse opened in 2019 [{wrong}]."


def test_a_citation_to_the_wrong_passage_is_moved_to_the_passage_that_holds_the_sentence(kb_settings, embedder,
                                                                                          small_generator):
    settings = kb_settings.model_copy(update={"answerable_threshold": 0.0, "min_relevance": -1.0})
    question = AskRequest(query="When did the Lyon warehouse open? How do I reset the router?", k=3, max_tokens=24)
    for repoint, expect_lyon in [(True, True), (False, False)]:
        svc = RAGService(settings.model_copy(update={"repoint_citations": repoint}), embedder=embedder,
                         generator=MisNumbering(small_generator))
        try:
            response = svc.ask("kb", question)
        finally:
            svc.close()
        assert response.answerable and len(response.citations) == 1, response
        cited = response.citations[0]
        assert cited.source.endswith("lyon.txt") is expect_lyon, (repoint, cited)
        assert f"[{cited.marker}]" in response.answer
        assert ("2019" in cited.quote) is expect_lyon
