"""The answerability score read from the model's first token, and its calibration by replay."""

from __future__ import annotations

import json
import math

from eval.answerability import best_threshold, cross_validated, replay
from rag.answer.answerability import abstain_probability, answerable_score, starts_abstention


def lp(p: float) -> float:
    return math.log(p)


def test_abstention_tokens_are_prefixes_of_not_found_only():
    assert starts_abstention("NOT") and starts_abstention(" NOT") and starts_abstention("N")
    assert not starts_abstention("No") and not starts_abstention("Not") and not starts_abstention(" ")
    assert abstain_probability({"NOT": lp(0.3), " NOT": lp(0.1), "Not": lp(0.2)}) == 0.4


def test_score_is_one_half_exactly_where_the_greedy_reply_switches():
    # NOT is the single likeliest token, though the answer words together outweigh it.
    spread = {"NOT": lp(0.21), "Space": lp(0.10), "Time": lp(0.09), "Memory": lp(0.08)}
    assert answerable_score(spread) < 0.5 < 1 - abstain_probability(spread)
    assert answerable_score({"NOT": lp(0.4), "Paris": lp(0.4)}) == 0.5
    assert answerable_score({"Paris": lp(0.9), "NOT": lp(0.05)}) > 0.9
    assert answerable_score({"Paris": lp(0.9)}) == 1.0
    assert answerable_score({}) == 0.5


def _row(answerable, score, f1=0.0, abstained=False):
    return {"answerable": answerable, "answerable_score": score, "f1": f1, "abstained": abstained}


def test_replay_abstains_below_the_threshold_or_where_the_model_did():
    rows = [_row(True, 0.9, 1.0), _row(True, 0.3, 0.5), _row(False, 0.2), _row(False, 0.8), _row(False, 0.9, abstained=True)]
    m = replay(rows, 0.5)
    assert m["abstention_recall"] == 2 / 3 and m["false_abstention_rate"] == 0.5
    assert m["answer_f1"] == 0.5 and m["overall_f1"] == (1.0 + 0 + 1 + 0 + 1) / 5


def test_threshold_choice_respects_the_false_abstention_bound_and_is_cross_validated():
    rows = [_row(True, 0.1 * i, 0.5) for i in range(1, 10)] + [_row(False, 0.1 * i) for i in range(1, 6)]
    grid = [round(i / 20, 2) for i in range(21)]
    best = best_threshold(rows, grid, max_false_abstention=0.15)
    assert best["false_abstention_rate"] <= 0.15
    folds = cross_validated(rows, grid, max_false_abstention=0.15, seed=1)
    assert len(folds["thresholds"]) == 2 and folds["held_out"]["questions"] == len(rows)
    json.dumps(folds)


def test_numeric_answers_match_across_units_scales_and_signs():
    from eval.metrics.answers import numeric_match, quantities

    assert quantities("$1.2 billion") == [1.2e9]
    assert quantities("(1,200)") == [-1200.0] and quantities("-3.5%") == [-3.5]
    assert numeric_match("Revenue was $1,200 million [2]", ["$1.2 billion"]) == 1.0
    assert numeric_match("1,203 (in millions)", ["$1.2 billion"]) == 1.0  # within 1%
    assert numeric_match("a net loss of (45.1)", ["-$45.1 million"]) == 1.0
    assert numeric_match("$1.3 billion", ["$1.2 billion"]) == 0.0
    assert numeric_match("24.5%", ["24.5"]) == 1.0 and numeric_match("no number", ["7"]) == 0.0
    # A year is equal or not: "June 30, 2022" does not hold "Notes due 2026 and 2028" (within 1%
    # it did), and a date's year is not $2,018 million; a bare 2,018 in millions still is.
    assert numeric_match("the fiscal year ended June 30, 2022 [1]", ["Notes due 2026 and 2028"]) == 0.0
    assert numeric_match("Notes due 2026 and 2028 [1]", ["Notes due 2026 and 2028."]) == 1.0
    assert numeric_match("EBITDA rose in 2022 [1]", ["$2,018mn"]) == 0.0
    assert numeric_match("2018 [2]", ["$2,018mn"]) == 1.0 and numeric_match("2,018 [2]", ["$2,018mn"]) == 1.0
    assert numeric_match("$2,030 million", ["$2,018mn"]) == 1.0  # amounts keep their 1%


def test_cited_passages_must_mention_the_numbers_the_question_names():
    from rag.answer.evidence import missing_numbers, question_numbers

    assert question_numbers("Who won the 2019 final, 3 sets to 1, for $1,200?") == ["2019", "1200"]
    assert missing_numbers("Who won in 2019?", ["Rybakina won in 2022."]) == ["2019"]
    assert missing_numbers("Who won in 2019?", ["The 2019 title went to Halep.", "x"]) == []
    assert missing_numbers("Who won in 2019?", ["In 20190 entries..."]) == ["2019"]  # whole numbers only
    assert missing_numbers("When was the price raised to $5.11?", ["a price of $5.11 a barrel"]) == []
    assert missing_numbers("What did 1,200 people sign?", ["1200 people signed"]) == []
    assert missing_numbers("Who won in two sets?", ["anything"]) == []


def test_eval_collections_are_per_corpus_folder_and_recipe(tmp_path):
    """Two runs whose samples hold the same files in two folders must not share a collection
    (documents are keyed by path: the shared one held every document twice)."""
    from eval.datasets.base import EvalSet
    from eval.runner import collection_name

    evalset = EvalSet(name="squad2", items=[], corpus_files={"a.txt": b"alpha"}, answer_metric="squad")
    recipe = {"recipe_version": 3, "chunk_tokens": 200}
    one = collection_name(evalset, tmp_path / "run1" / "corpus", recipe)
    assert one == collection_name(evalset, tmp_path / "run1" / "corpus", recipe)  # a rerun reuses it
    assert one != collection_name(evalset, tmp_path / "run2" / "corpus", recipe)
    assert one != collection_name(evalset, tmp_path / "run1" / "corpus", {**recipe, "chunk_tokens": 120})
