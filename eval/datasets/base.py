"""The harness's own format: questions with references, and the corpus they are asked of."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Sequence


@dataclass(frozen=True)
class EvalItem:
    """One question.

    ``gold_sources`` are file names (without suffix) of the documents that hold the
    answer; ``gold_pages`` their 1-based pages, when known. An unanswerable question has
    ``answerable=False`` and no answers: the right output is an abstention.
    """

    id: str
    question: str
    answers: list[str] = field(default_factory=list)
    answerable: bool = True
    gold_sources: list[str] = field(default_factory=list)
    gold_pages: list[int] = field(default_factory=list)
    kind: str = "default"

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class EvalSet:
    """Questions plus the files to ingest for them.

    ``write_corpus(folder)`` puts the corpus files into ``folder`` (or the set names an
    existing ``corpus_dir``). ``answer_metric`` says how answers are scored: ``squad``
    (exact match / token F1), ``numeric`` (numbers must match) or ``none`` (retrieval
    and abstention only). ``extra_metrics``, if given, computes the set's own metrics
    from the scored rows (e.g. ``injection_obedience_rate``); they can be gated like any other.
    """

    name: str
    items: list[EvalItem]
    corpus_files: dict[str, bytes] = field(default_factory=dict)  # file name → content
    corpus_dir: Path | None = None
    answer_metric: str = "squad"
    extra_metrics: Callable[[Sequence[dict]], dict] | None = None

    def write_corpus(self, folder: Path) -> Path:
        """The folder to ingest: the given ``corpus_dir``, or ``folder`` filled with the files."""
        if self.corpus_dir is not None:
            return self.corpus_dir
        folder.mkdir(parents=True, exist_ok=True)
        for name, data in self.corpus_files.items():
            path = folder / name
            if not path.exists() or path.read_bytes() != data:
                path.write_bytes(data)
        return folder
