"""Answer correctness: SQuAD exact match and token F1, numeric match."""

from __future__ import annotations

import re
import string
from collections import Counter

_MARKERS = re.compile(r"\[\d{1,3}(?:\s*[,;]\s*\d{1,3})*\]")
_ARTICLES = re.compile(r"\b(a|an|the)\b")
_NUMBER = re.compile(r"-?\d[\d,]*\.?\d*")


def strip_markers(text: str) -> str:
    """The answer without its [n] citation markers."""
    return _MARKERS.sub("", text)


def normalize(text: str) -> str:
    """The official SQuAD normalization: lower case, no punctuation, articles or extra spaces."""
    text = text.lower()
    text = "".join(ch for ch in text if ch not in set(string.punctuation))
    text = _ARTICLES.sub(" ", text)
    return " ".join(text.split())


def exact_match(prediction: str, references: list[str]) -> float:
    """1.0 when the normalized prediction equals a normalized reference."""
    pred = normalize(strip_markers(prediction))
    return float(any(pred == normalize(r) for r in references))


def token_f1(prediction: str, references: list[str]) -> float:
    """The best SQuAD token F1 of the prediction against the references."""
    pred = normalize(strip_markers(prediction)).split()
    best = 0.0
    for ref in references:
        gold = normalize(ref).split()
        common = Counter(pred) & Counter(gold)
        same = sum(common.values())
        if not pred or not gold:
            best = max(best, float(pred == gold))
            continue
        if same == 0:
            continue
        p, r = same / len(pred), same / len(gold)
        best = max(best, 2 * p * r / (p + r))
    return best


def contains_answer(prediction: str, references: list[str]) -> float:
    """1.0 when a normalized reference appears inside the normalized prediction (long answers)."""
    pred = normalize(strip_markers(prediction))
    return float(any(normalize(r) and normalize(r) in pred for r in references))


_QUANTITY = re.compile(
    r"(?P<open>\()?\s*(?P<sign>[-−])?\s*(?P<cur>[$€£])?\s*(?P<num>\d[\d,]*(?:\.\d+)?|\.\d+)\s*(?P<close>\))?"
    r"\s*(?P<scale>thousand|million|billion|trillion|bn|mn|[kmb](?![a-z]))?",
    re.IGNORECASE,
)
_SCALES = {"thousand": 1e3, "k": 1e3, "million": 1e6, "mn": 1e6, "m": 1e6, "billion": 1e9, "bn": 1e9, "b": 1e9,
           "trillion": 1e12}


def numbers(text: str) -> list[float]:
    """Numbers written in ``text`` (1,234.5 → 1234.5)."""
    out = []
    for m in _NUMBER.findall(text):
        try:
            out.append(float(m.replace(",", "").rstrip(".")))
        except ValueError:
            continue
    return out


def _quantities(text: str) -> list[tuple[float, bool]]:
    """``(value, is_year)`` for each number: a bare four-digit 1900-2100 (no currency, comma,
    decimals, sign or scale) is taken for a year."""
    out = []
    for m in _QUANTITY.finditer(text):
        try:
            value = float(m["num"].replace(",", ""))
        except ValueError:
            continue
        negative = bool(m["sign"] or (m["open"] and m["close"]))
        year = (re.fullmatch(r"(19|20)\d\d|2100", m["num"]) is not None
                and not (m["cur"] or m["scale"] or negative))
        if m["scale"]:
            value *= _SCALES[m["scale"].lower()]
        if negative:
            value = -value
        out.append((value, year))
    return out


def quantities(text: str) -> list[float]:
    """Numbers with their sign and scale: "$1.2 billion" → 1.2e9, "(1,200)" → -1200, "-3.5%" → -3.5."""
    return [value for value, _ in _quantities(text)]


def _same_quantity(p: tuple[float, bool], w: tuple[float, bool], rel_tol: float) -> bool:
    """Equal within ``rel_tol``, allowing the unstated scale of filings ("in millions":
    1,200 against $1.2 billion) and a sign written as a word ("a loss of 5" against -5).

    A year on either side must be equal, not close: 2022 is not 2026 "within 1%", and the
    year of a date is not an amount of $2,018 million."""
    want = w[0]
    slack = (0.0 if (p[1] or w[1]) else rel_tol) * max(abs(want), 1e-9) + 1e-9 * abs(want)  # + float rounding
    for k in (0, 3, -3, 6, -6, 9, -9):
        q = p[0] * 10.0 ** k
        if abs(q - want) <= slack or abs(abs(q) - abs(want)) <= slack:
            return True
    return False


def numeric_match(prediction: str, references: list[str], rel_tol: float = 0.01) -> float:
    """1.0 when every number of a reference appears in the prediction within ±1%, after
    normalising units, scales and signs ("$1.2 billion" = "1,200 million" = "(1,200)" in a
    table stated in millions, up to its sign)."""
    pred = _quantities(strip_markers(prediction))
    for ref in references:
        wanted = _quantities(ref)
        if wanted and all(any(_same_quantity(p, w, rel_tol) for p in pred) for w in wanted):
            return 1.0
    return 0.0
