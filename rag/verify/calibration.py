"""The committed calibration: thresholds and logistic-regression weights per verifier.

``calibration.json`` next to this module is written by ``python -m eval.calibration
--write`` from the calibration halves of HaluEval QA (MIT) and SummEdits
(Apache-2.0) only; FaithBench (non-commercial) is never used for fitting.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

PATH = Path(__file__).with_name("calibration.json")


@lru_cache(maxsize=1)
def load_calibration(path: str | None = None) -> dict:
    """The calibration file as a dict (``{}`` when it is missing)."""
    p = Path(path) if path else PATH
    if not p.exists():
        return {}
    return json.loads(p.read_text(encoding="utf-8"))


def calibrated_threshold(verifier: str, default: float) -> float:
    """The threshold fitted for ``verifier`` ("lexical", "judge", "combined", ...), else ``default``."""
    entry = load_calibration().get("verifiers", {}).get(verifier, {})
    return float(entry.get("threshold", default))
