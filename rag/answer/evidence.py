"""Evidence the cited passages must hold: the numbers and dates the question names.

A question that asks about 2019 is not answered by a passage about 2022, however
confidently the model copies a name out of it. Small models do exactly that when the
documents are about the right topic but not the asked year, figure or amount (RGB's
negative passages are built that way). The check is lexical and cheap: every number of
two or more digits in the question must appear in at least one passage the answer
cites; otherwise the service abstains and says which number was missing.
"""

from __future__ import annotations

import re
from typing import Sequence

# Numbers of two or more digits ("2019", "5.11", "1,200"): one-digit numbers are often
# written as words ("two"), and would be missed falsely.
_NUMBER = re.compile(r"(?<![\w.])\d[\d,]*(?:\.\d+)?(?![\w])")


def question_numbers(question: str) -> list[str]:
    """The numbers of two or more digits in ``question``, without thousands separators."""
    out = []
    for m in _NUMBER.finditer(question):
        n = m.group(0).replace(",", "").rstrip(".")
        if sum(ch.isdigit() for ch in n) >= 2 and n not in out:
            out.append(n)
    return out


def missing_numbers(question: str, cited_texts: Sequence[str]) -> list[str]:
    """The question's numbers that none of ``cited_texts`` mentions (commas ignored).

    Example:
        >>> missing_numbers("Who won Wimbledon in 2019?", ["Rybakina won Wimbledon in 2022."])
        ['2019']
        >>> missing_numbers("Who won Wimbledon in 2019?", ["In 2019, Halep won Wimbledon."])
        []
    """
    return unmentioned(question_numbers(question), cited_texts)


def unmentioned(wanted: Sequence[str], texts: Sequence[str]) -> list[str]:
    """The numbers of ``wanted`` (as ``question_numbers`` gives them) that none of ``texts``
    mentions as a whole number (commas ignored).

    Example:
        >>> unmentioned(["2018", "39"], ["Norway collected 39 medals in 20180 entries."])
        ['2018']
    """
    if not wanted:
        return []
    haystack = " ".join(t.replace(",", "") for t in texts)
    return [n for n in wanted if not re.search(rf"(?<![\d.]){re.escape(n)}(?![\d])", haystack)]
