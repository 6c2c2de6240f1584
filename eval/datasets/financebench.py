"""FinanceBench: questions about real SEC filings (PDFs) with their evidence pages."""

from __future__ import annotations

import json
from pathlib import Path

from eval.datasets.base import EvalItem, EvalSet


def load_financebench(folder: Path, *, limit: int | None = None, docs: list[str] | None = None) -> EvalSet:
    """Questions whose PDFs are in ``folder/pdfs`` (optionally only some documents).

    Evidence pages in the data are 0-based; here they are 1-based, like citations.
    """
    items, names = [], set()
    for line in (folder / "questions.jsonl").read_text().splitlines():
        row = json.loads(line)
        doc = row["doc_name"]
        if docs and doc not in docs:
            continue
        if not (folder / "pdfs" / f"{doc}.pdf").exists():
            continue
        names.add(doc)
        items.append(EvalItem(
            id=row["financebench_id"], question=row["question"], answers=[str(row["answer"])],
            gold_sources=[doc], gold_pages=sorted({e["evidence_page_num"] + 1 for e in row["evidence"]}),
            kind=row.get("question_type", "default"),
        ))
    items = items[:limit]
    used = {i.gold_sources[0] for i in items}
    files = {f"{d}.pdf": (folder / "pdfs" / f"{d}.pdf").read_bytes() for d in sorted(used)}
    return EvalSet(name="financebench", items=items, corpus_files=files, answer_metric="numeric")
