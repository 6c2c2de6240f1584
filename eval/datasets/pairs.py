"""Labelled (claim, evidence) pairs and the deterministic calibration / test split."""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from typing import Sequence

#: Seed of every split and sample in the calibration program.
SEED = 13


@dataclass(frozen=True)
class LabeledPair:
    """One claim, the evidence it should rest on, and the human verdict.

    Attributes:
        id: stable id within its dataset.
        group: pairs sharing a group (same source document or question) land in the same half.
        claim: the text to verify.
        evidence: the text it should be supported by.
        supported: True when humans judged the claim supported by (consistent with) the evidence.
    """

    id: str
    group: str
    claim: str
    evidence: str
    supported: bool


def _bucket(group: str, seed: int) -> int:
    return int.from_bytes(hashlib.sha256(f"{seed}:{group}".encode()).digest()[:4], "big")


def split_halves(pairs: Sequence[LabeledPair], seed: int = SEED) -> tuple[list[LabeledPair], list[LabeledPair]]:
    """Split into (calibration, test) halves by group, deterministically.

    Groups are ordered by a seeded hash and cut in the middle, so both halves have
    (nearly) the same number of groups and no source document sits in both.
    """
    groups = sorted({p.group for p in pairs}, key=lambda g: (_bucket(g, seed), g))
    calib = set(groups[: (len(groups) + 1) // 2])
    return [p for p in pairs if p.group in calib], [p for p in pairs if p.group not in calib]


def sample_groups(pairs: Sequence[LabeledPair], limit: int | None, seed: int = SEED) -> list[LabeledPair]:
    """At most ``limit`` pairs taken whole group by group in a seeded random order."""
    if limit is None or limit >= len(pairs):
        return list(pairs)
    by_group: dict[str, list[LabeledPair]] = {}
    for p in pairs:
        by_group.setdefault(p.group, []).append(p)
    order = sorted(by_group)
    random.Random(seed).shuffle(order)
    out: list[LabeledPair] = []
    for g in order:
        if len(out) >= limit:
            break
        out.extend(by_group[g][: limit - len(out)])
    return out
