"""Citation markers moved to the passage that holds their sentence (rag.verify.repoint)."""

from __future__ import annotations

from rag.answer.citations import resolve_citations
from rag.schemas import ChunkHit
from rag.answer.evidence import missing_numbers
from rag.verify.repoint import cite_question_numbers, repoint_markers

COVER = "FORM 8-K. Johnson & Johnson. One Johnson & Johnson Plaza, New Brunswick, New Jersey."
BODY = ("Johnson & Johnson announced the final results of its exchange offer. The company received "
        "cash proceeds of $13.2 billion from the separation of Kenvue.")
SALES = "Worldwide sales were $25.5 billion in the second quarter, up 6.3% from the year before."


def hit(n: int, text: str, page: int) -> ChunkHit:
    return ChunkHit(chunk_id=n, doc_id=1, source="/f/jnj-8k.pdf", title="8-K", page=page, start=0, end=len(text),
                    text=text, score=1.0)


PASSAGES = [hit(1, COVER, 1), hit(2, BODY, 4), hit(3, SALES, 9)]


def test_a_number_cited_to_a_passage_without_it_moves_to_the_one_with_it():
    answer = "JnJ received cash proceeds of $13.2 billion [1]."
    fixed = repoint_markers(answer, PASSAGES)
    assert fixed == "JnJ received cash proceeds of $13.2 billion [2]."
    citations, _ = resolve_citations(fixed, PASSAGES)
    assert [(c.marker, c.page) for c in citations] == [(2, 4)]
    assert "$13.2 billion" in citations[0].quote


def test_names_cited_to_the_wrong_passage_move_too():
    answer = "The Kenvue separation [3]."
    assert repoint_markers(answer, PASSAGES) == "The Kenvue separation [2]."


def test_a_right_citation_is_kept_even_when_another_passage_also_holds_the_sentence():
    twice = [hit(1, SALES, 2), hit(2, SALES + " Sales rose.", 9)]
    assert repoint_markers("Sales were $25.5 billion [2].", twice) == "Sales were $25.5 billion [2]."
    assert repoint_markers("Sales were $25.5 billion [1].", twice) == "Sales were $25.5 billion [1]."


def test_nothing_moves_when_no_passage_holds_the_sentence():
    answer = "Net income was $4.1 billion [1]."  # in no passage: the verifier's case, not a wrong number
    assert repoint_markers(answer, PASSAGES) == answer


def test_a_passage_must_hold_every_number_of_the_sentence():
    answer = "Sales were $25.5 billion, up 7.9% [1]."  # 7.9 is in no passage
    assert repoint_markers(answer, PASSAGES) == answer


def test_only_the_wrong_sentence_changes_and_several_markers_become_one():
    answer = "Sales were $25.5 billion, up 6.3% [3]. Proceeds were $13.2 billion [1][3]. Other text."
    assert repoint_markers(answer, PASSAGES) == (
        "Sales were $25.5 billion, up 6.3% [3]. Proceeds were $13.2 billion [2]. Other text.")


def test_a_sentence_that_cites_nothing_gets_the_passage_that_holds_it():
    answer = "Worldwide sales were $25.5 billion. Proceeds were $13.2 billion [2]."
    assert repoint_markers(answer, PASSAGES) == "Worldwide sales were $25.5 billion [3]. Proceeds were $13.2 billion [2]."
    citations, sentences = resolve_citations(repoint_markers(answer, PASSAGES), PASSAGES)
    assert [s.markers for s in sentences] == [[3], [2]]


def test_sentences_no_passage_holds_and_abstentions_are_left_alone():
    for answer in ["Net income was $4.1 billion.", "Yes.", "NOT FOUND", ""]:
        assert repoint_markers(answer, PASSAGES) == answer


RECORD = "Norway set the record for most total medals at a single Winter Olympics with 39."
HAUL = "Feb 5, 2022 ... Norway collected 39 medals in 2018, the largest haul by any country."
OTHER = "The 2018 Winter Olympics were held in Pyeongchang, South Korea."
OLYMPICS = [hit(1, RECORD, 1), hit(2, OTHER, 2), hit(3, HAUL, 3)]
QUESTION = "Which country won the most medals at the 2018 Winter Olympics?"


def test_the_passage_holding_the_answer_and_the_questions_year_is_cited_too():
    fixed = cite_question_numbers("Norway [1]", QUESTION, OLYMPICS)
    assert fixed == "Norway [1] [3]"  # not [2]: it names the year but not Norway
    cited = [OLYMPICS[c.marker - 1].text for c in resolve_citations(fixed, OLYMPICS)[0]]
    assert missing_numbers(QUESTION, cited) == []


def test_no_marker_is_added_where_no_passage_holds_both_the_sentence_and_the_year():
    for answer in ["Sweden [1]", "Norway won [2]."]:  # no passage names Sweden; [2] already names 2018
        assert cite_question_numbers(answer, QUESTION, OLYMPICS) == answer
    assert cite_question_numbers("Norway [1]", "Who won in 2014?", OLYMPICS) == "Norway [1]"
    assert cite_question_numbers("Norway [1]", "Who won the most medals?", OLYMPICS) == "Norway [1]"
