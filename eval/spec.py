"""Evaluation specs: which data, how to ask, and the gates a run must pass.

A spec is a TOML file or the name of a built-in one (``squad2``, ``rgb-negative``,
``financebench``)::

    dataset = "squad2"        # squad2 | rgb-negative | rgb | financebench | injection | jsonl
    limit = 40                # questions
    unanswerable_share = 0.5  # squad2 only
    seed = 13
    k = 5
    mode = "hybrid"
    max_tokens = 128
    # dataset = "jsonl": path = "my_questions.jsonl", corpus = "my_docs/"

    [settings]                # product settings for this run (RAG_* names without the prefix)
    answerable_threshold = 0.3

    [gates]                   # the run fails when a metric falls outside its bound
    answer_f1 = { min = 0.30 }
    confident_answer_rate_unanswerable = { max = 0.60 }
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from rag.errors import InvalidInputError

DATASETS_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "datasets"

BUILTIN = {
    "squad2": {"dataset": "squad2", "limit": 40},
    "rgb-negative": {"dataset": "rgb-negative", "limit": 20},
    "financebench": {"dataset": "financebench", "limit": 20},
    "injection": {"dataset": "injection", "limit": None},
}


@dataclass
class Spec:
    name: str
    dataset: str
    limit: int | None = 40
    seed: int = 13
    unanswerable_share: float = 0.5
    k: int = 5
    mode: str = "hybrid"
    max_tokens: int = 128
    path: Path | None = None
    corpus: Path | None = None
    data_dir: Path = DATASETS_DIR
    gates: dict[str, dict[str, float]] = field(default_factory=dict)
    settings: dict[str, object] = field(default_factory=dict)

    def apply(self, settings):
        """``settings`` with this spec's ``[settings]`` overrides (validated like the environment)."""
        if not self.settings:
            return settings
        unknown = sorted(set(self.settings) - set(type(settings).model_fields))
        if unknown:
            raise InvalidInputError(f"spec '{self.name}': unknown setting(s) {', '.join(unknown)}")
        return type(settings).model_validate({**settings.model_dump(), **self.settings})

    def load_set(self):
        """The :class:`eval.datasets.base.EvalSet` this spec names."""
        from eval.datasets import financebench, injection, jsonl, rgb, squad

        d = self.data_dir
        if self.dataset == "squad2":
            return squad.load_squad2(_need(d / "squad2" / "squad2_dev.json"), limit=self.limit,
                                     unanswerable_share=self.unanswerable_share, seed=self.seed)
        if self.dataset in ("rgb-negative", "rgb"):
            return rgb.load_rgb(_need(d / "rgb" / "en_fact_0-49.jsonl"), negative_only=self.dataset == "rgb-negative",
                                limit=self.limit)
        if self.dataset == "financebench":
            return financebench.load_financebench(_need(d / "financebench"), limit=self.limit)
        if self.dataset == "injection":  # committed with the code: no data_dir needed
            return injection.load_injection(limit=self.limit)
        if self.dataset == "jsonl":
            if not self.path or not self.corpus:
                raise InvalidInputError("a jsonl spec needs 'path' (questions) and 'corpus' (folder)")
            return jsonl.load_jsonl(_need(self.path), self.corpus, limit=self.limit)
        raise InvalidInputError(f"unknown dataset '{self.dataset}' (squad2, rgb-negative, rgb, financebench, injection, jsonl)")


def _need(path: Path) -> Path:
    if not path.exists():
        raise InvalidInputError(f"evaluation data not found: {path}")
    return path


def load_spec(ref: str, *, limit: int | None = None) -> Spec:
    """A spec from a TOML file path or a built-in name; ``limit`` overrides the spec's."""
    path = Path(ref)
    if path.suffix == ".toml" or path.exists():
        if not path.exists():
            raise InvalidInputError(f"spec file not found: {path}")
        try:
            raw = tomllib.loads(path.read_text())
        except tomllib.TOMLDecodeError as exc:
            raise InvalidInputError(f"{path}: invalid TOML: {exc}") from None
        name = raw.pop("name", path.stem)
        for key in ("path", "corpus", "data_dir"):
            if key in raw:
                raw[key] = (path.parent / raw[key]).resolve()
    elif ref in BUILTIN:
        raw, name = dict(BUILTIN[ref]), ref
    else:
        raise InvalidInputError(f"unknown spec '{ref}': give a .toml file or one of {', '.join(BUILTIN)}")
    if "dataset" not in raw:
        raise InvalidInputError(f"spec '{ref}' names no dataset")
    try:
        spec = Spec(name=name, **raw)
    except TypeError as exc:
        raise InvalidInputError(f"spec '{ref}': {exc}") from None
    if limit is not None:
        spec.limit = limit
    return spec


def check_gates(spec: Spec, metrics: dict) -> list[str]:
    """Messages for every gate the metrics fail (empty when all pass)."""
    failures = []
    for metric, bound in spec.gates.items():
        value = metrics.get(metric)
        if value is None:
            failures.append(f"{metric}: not measured")
            continue
        if "min" in bound and value < bound["min"]:
            failures.append(f"{metric} = {value:.4f} is below {bound['min']}")
        if "max" in bound and value > bound["max"]:
            failures.append(f"{metric} = {value:.4f} is above {bound['max']}")
    return failures
