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


def numbers(text: str) -> list[float]:
    """Numbers written in ``text`` (1,234.5 → 1234.5)."""
    out = []
    for m in _NUMBER.findall(text):
        try:
            out.append(float(m.replace(",", "").rstrip(".")))
        except ValueError:
            continue
    return out


def numeric_match(prediction: str, references: list[str], rel_tol: float = 0.01) -> float:
    """1.0 when every number of the first reference appears in the prediction (±1%)."""
    pred = numbers(strip_markers(prediction))
    for ref in references:
        wanted = numbers(ref)
        if wanted and all(any(abs(p - w) <= rel_tol * max(abs(w), 1e-9) for p in pred) for w in wanted):
            return 1.0
    return 0.0
