"""Lexical evidence features of a (claim, evidence) pair: no model, microseconds each.

A claim is suspicious when its numbers, names or content words do not appear in the
evidence. Every recall is 1.0 when the claim has nothing of that kind to check.

Numbers are normalised before they are compared: ``1,000`` = ``1000`` = ``1k`` =
``1 thousand``; ``$160 million`` = ``160000000``; ``50%`` = ``50 percent`` = ``50``;
a rounded claim matches at its own precision (``181.7 million`` matches
``181,674,817``; ``180 million`` does not). Evidence number words (``three``) count.
"""

from __future__ import annotations

import math
import re

#: The feature names, in the order :func:`feature_vector` returns them.
FEATURES: tuple[str, ...] = (
    "content_recall",
    "bigram_recall",
    "entity_recall",
    "number_recall",
    "missing_content",
    "missing_entities",
    "missing_numbers",
    "negation_mismatch",
)

STOPWORDS = frozenset(
    """a about above after again against all also am an and any are as at be because been before being below
    between both but by can could did do does doing down during each few for from further had has have having he her
    here hers herself him himself his how i if in into is it its itself just me more most my myself no nor not of
    off on once only or other our ours ourselves out over own same she should so some such than that the their
    theirs them themselves then there these they this those through to too under until up very was we were what
    when where which while who whom why will with would you your yours yourself yourselves yes may might must shall
    one ones however thus therefore although though whereas within without upon via per among across along around
    answer question""".split()
)
NEGATIONS = frozenset({"not", "no", "never", "none", "nor", "neither", "without", "cannot", "nobody", "nothing"})
_MULT = {"k": 1e3, "thousand": 1e3, "m": 1e6, "mn": 1e6, "million": 1e6, "b": 1e9, "bn": 1e9, "billion": 1e9,
         "trillion": 1e12, "tn": 1e12}
_NUMBER_WORDS = {w: i for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
    "seventeen eighteen nineteen twenty".split())}
_NUMBER = re.compile(
    r"(?<![\w.])(\d{1,3}(?:,\d{3})+|\d+)(\.\d+)?(?:\s*(%|percent\b|per cent\b|k\b|thousand\b|mn\b|m\b|million\b|"
    r"bn\b|b\b|billion\b|tn\b|trillion\b))?",
    re.IGNORECASE,
)
_WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)*")
_CAPITAL = re.compile(r"\b[A-Z][^\W_]*(?:['’][^\W\d_]+)?")
_NEG_CONTRACTION = re.compile(r"n['’]t\b", re.IGNORECASE)


def numbers(text: str) -> list[tuple[float, float]]:
    """(value, precision) of every number in ``text``; precision is the claim's rounding unit."""
    out = []
    for m in _NUMBER.finditer(text):
        whole, frac, unit = m.group(1), m.group(2) or "", (m.group(3) or "").lower()
        mult = _MULT.get(unit, 1.0)
        value = float(whole.replace(",", "") + frac) * mult
        out.append((value, mult * 10.0 ** -(len(frac) - 1 if frac else 0)))
    return out


def _number_values(text: str) -> list[float]:
    values = [v for v, _ in numbers(text)]
    values += [float(_NUMBER_WORDS[w]) for w in _WORD.findall(text.lower()) if w in _NUMBER_WORDS]
    return values


def _number_found(value: float, precision: float, evidence: list[float]) -> bool:
    return any(v == value or abs(round(v / precision) * precision - value) < precision * 1e-6 for v in evidence)


def stem(word: str) -> str:
    """A crude English stem: lower case; possessive, common suffixes and a final "e" stripped
    (``directed``/``directs`` → ``direct``, ``names``/``named``/``name`` → ``nam``)."""
    w = word.lower().replace("’", "'")
    if w.endswith("'s"):
        w = w[:-2]
    if len(w) > 4 and w.endswith(("ies", "ied")):
        return w[:-3] + "y"
    for suffix in ("ingly", "ings", "ing", "edly", "ed", "ly"):
        if w.endswith(suffix) and len(w) - len(suffix) >= 3:
            w = w[: -len(suffix)]
            break
    else:
        if w.endswith("es") and w[:-2].endswith(("s", "x", "z", "ch", "sh")) and len(w) > 4:
            w = w[:-2]
        elif w.endswith("s") and not w.endswith(("ss", "us", "is")) and len(w) > 3:
            w = w[:-1]
    return w[:-1] if len(w) > 3 and w.endswith("e") else w


def content_stems(text: str) -> list[str]:
    """Stems of the words of ``text`` that carry content (no stop words, two letters or more)."""
    return [stem(w) for w in _WORD.findall(text) if len(w) > 1 and w.lower() not in STOPWORDS]


def entities(text: str) -> list[str]:
    """Stems of the capitalised words of ``text`` that are not stop words (names, places, titles)."""
    return [stem(w) for w in _CAPITAL.findall(text) if w.lower() not in STOPWORDS and not w[0].isdigit()]


def _negations(text: str) -> int:
    return sum(1 for w in _WORD.findall(text.lower()) if w in NEGATIONS) + len(_NEG_CONTRACTION.findall(text))


def _recall(items: list, found) -> tuple[float, int]:
    if not items:
        return 1.0, 0
    missing = sum(1 for x in items if not found(x))
    return 1.0 - missing / len(items), missing


def features(claim: str, evidence: str) -> dict[str, float]:
    """The :data:`FEATURES` of one pair, by name."""
    ev_stems = content_stems(evidence)
    ev_set = set(ev_stems) | {stem(w) for w in _WORD.findall(evidence)}
    ev_near = {(a, b) for i, a in enumerate(ev_stems) for b in ev_stems[i + 1: i + 4]}
    claim_stems = list(dict.fromkeys(content_stems(claim)))
    seq = content_stems(claim)
    bigrams = list(dict.fromkeys(zip(seq, seq[1:])))
    ents = list(dict.fromkeys(entities(claim)))
    nums = list(dict.fromkeys(numbers(claim)))
    ev_nums = _number_values(evidence)

    content, miss_c = _recall(claim_stems, lambda s: s in ev_set)
    bigram, _ = _recall(bigrams, lambda b: b in ev_near or b[::-1] in ev_near)
    entity, miss_e = _recall(ents, lambda e: e in ev_set)
    number, miss_n = _recall(nums, lambda n: _number_found(n[0], n[1], ev_nums))
    return {
        "content_recall": content,
        "bigram_recall": bigram,
        "entity_recall": entity,
        "number_recall": number,
        "missing_content": math.log1p(miss_c),
        "missing_entities": math.log1p(miss_e),
        "missing_numbers": math.log1p(miss_n),
        "negation_mismatch": 1.0 if _negations(claim) > _negations(evidence) else 0.0,
    }


def feature_vector(claim: str, evidence: str) -> list[float]:
    """:func:`features` as a list in :data:`FEATURES` order."""
    f = features(claim, evidence)
    return [f[name] for name in FEATURES]
