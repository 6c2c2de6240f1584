"""Ingestion throughput against its floor: the same chunks embedded alone.

For each corpus and run, a fresh collection in a throw-away RAG home is filled with
``Ingestor.ingest`` (whole wall time, pages/s, chunks/s, seconds per stage), then the
texts it gave the encoder (its chunks, each headed by its document's title) are embedded
again, alone, in one call, by the same encoder with the same batch size: the floor that
ingestion cannot beat on this machine. The figure that matters
is whole / floor (median over runs); parse, chunk and store should hide behind or
add little to the encoder.

Corpora (from the shared dev datasets):
  financebench  the 13 FinanceBench SEC filings (PDF: PDFium, pypdf as the fallback)
  scifact       the 2,500 SciFact abstracts, each written as a .txt file first
                (outside the timed part)

Run:
    RAG_HOME=.rag-home python benchmarks/ingest.py                 # both corpora, 3 runs
    python benchmarks/ingest.py --corpus scifact --runs 5 --json
    python benchmarks/ingest.py --quick                           # small subset, 1 run

This is a program that prints figures; it never fails on a time.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

# This file is named like the ``ingest`` package: keep its folder off the import path
# (Python puts it first) and import the helpers through the repository root.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(_HERE.parent))
from benchmarks._common import (DEFAULT_DATA, default_models_home, load_embedder, loadavg_1m, machine,  # noqa: E402
                     machine_line, make_settings, median, note)

STAGES = ("parse", "chunk", "embed", "store")
TARGET = 1.10
QUICK_PDFS = 3
QUICK_ABSTRACTS = 300


# ---------------------------------------------------------------- corpora
def financebench_files(data: Path, limit: int | None) -> list[Path]:
    pdfs = sorted((data / "financebench" / "pdfs").glob("*.pdf"))
    if not pdfs:
        raise SystemExit(f"no PDFs under {data / 'financebench' / 'pdfs'} (use --data)")
    if limit:  # the smallest few: enough to exercise the PDF path quickly
        pdfs = sorted(sorted(pdfs, key=lambda p: p.stat().st_size)[:limit])
    return pdfs


def scifact_files(data: Path, limit: int | None, folder: Path) -> list[Path]:
    """Write each abstract as ``<doc_id>.txt`` (title, blank line, abstract) into ``folder``."""
    corpus = data / "scifact" / "corpus.jsonl"
    if not corpus.exists():
        raise SystemExit(f"{corpus} is missing (use --data)")
    out = []
    with corpus.open(encoding="utf-8") as fh:
        for line in fh:
            row = json.loads(line)
            path = folder / f"{row['doc_id']}.txt"
            path.write_text(f"{row['title']}\n\n{' '.join(row['abstract'])}\n", encoding="utf-8")
            out.append(path)
            if limit and len(out) >= limit:
                break
    return out


# ---------------------------------------------------------------- one run
class _CountingEmbedder:
    """The encoder, unchanged, noting how many texts each ``embed_batch`` call got, and the
    texts themselves (what the encoder read: each chunk headed by its document's title)."""

    def __init__(self, inner) -> None:
        self._inner = inner
        self.calls: list[int] = []
        self.texts: list[str] = []

    def embed_batch(self, texts, **kw):
        self.calls.append(len(texts))
        self.texts.extend(texts)
        return self._inner.embed_batch(texts, **kw)

    def __getattr__(self, name):
        return getattr(self._inner, name)


def one_run(files: list[Path], embedder, models_home: Path, batch: int) -> dict:
    from ingest.pipeline import Ingestor

    with tempfile.TemporaryDirectory(prefix="rag-bench-home-") as home:
        settings = make_settings(Path(home), models_home, embed_batch_size=batch)
        counting = _CountingEmbedder(embedder)
        ingestor = Ingestor(settings, embedder=counting)
        load_before = loadavg_1m()
        t0 = time.perf_counter()
        summary = ingestor.ingest(files, "bench")
        whole = time.perf_counter() - t0
        db = settings.collections_dir / "bench" / "records.sqlite"
        conn = sqlite3.connect(db)
        try:
            stored = conn.execute("SELECT COUNT(*) FROM chunks").fetchone()[0]
        finally:
            conn.close()
    # The floor: the very texts ingestion gave the encoder (the stored chunks, each headed by
    # its document's title), in ingestion order, one call, same encoder and batch size.
    texts = counting.texts
    assert len(texts) == stored, (len(texts), stored)
    t0 = time.perf_counter()
    embedder.embed_batch(texts)
    floor = time.perf_counter() - t0
    shares = {s: 100.0 * summary.timings.get(s, 0.0) / whole for s in STAGES}
    # Main-thread time neither embedding nor storing: waiting for the parser, discovery, opening.
    wait = max(0.0, whole - summary.timings.get("embed", 0.0) - summary.timings.get("store", 0.0))
    return {
        "files": len(files), "ingested": summary.ingested, "failed": summary.failed,
        "failures": [f"{Path(f.path).name}: {f.reason}" for f in summary.files if f.status == "failed"],
        "pages": summary.pages, "chunks": summary.chunks, "stored_chunks": len(texts),
        "whole_s": whole, "floor_s": floor, "ratio": whole / floor if floor else None,
        "pages_per_s": summary.pages / whole, "chunks_per_s": summary.chunks / whole,
        "timings_s": dict(summary.timings), "share_pct": shares,
        "wait_pct": 100.0 * wait / whole, "embed_calls": len(counting.calls),
        "chunks_per_call": (sum(counting.calls) / len(counting.calls)) if counting.calls else 0.0, "load_1m_before": load_before, "load_1m_after": loadavg_1m(),
    }


def summarise(runs: list[dict]) -> dict:
    keys = ("whole_s", "floor_s", "ratio", "pages_per_s", "chunks_per_s", "wait_pct", "embed_calls", "chunks_per_call")
    out = {k: median([r[k] for r in runs]) for k in keys}
    out["share_pct"] = {s: median([r["share_pct"][s] for r in runs]) for s in STAGES}
    out["pages"], out["chunks"] = runs[-1]["pages"], runs[-1]["chunks"]
    return out


# ---------------------------------------------------------------- output
def print_table(name: str, runs: list[dict], med: dict) -> None:
    head = (f"{'run':>6} {'files':>5} {'pages':>6} {'chunks':>6} {'whole s':>8} {'floor s':>8} {'ratio':>6} "
            f"{'pages/s':>8} {'chunks/s':>8} {'parse%':>6} {'chunk%':>6} {'embed%':>6} {'store%':>6} "
            f"{'wait%':>6} {'calls':>5} {'per call':>8} {'load1m':>6}")
    print(f"\n== {name} ==")
    print(head)
    print("-" * len(head))

    def row(label, r, files, load):
        s = r["share_pct"]
        print(f"{label:>6} {files:>5} {r['pages']:>6} {r['chunks']:>6} {r['whole_s']:>8.2f} {r['floor_s']:>8.2f} "
              f"{r['ratio']:>5.2f}x {r['pages_per_s']:>8.1f} {r['chunks_per_s']:>8.1f} {s['parse']:>6.1f} "
              f"{s['chunk']:>6.1f} {s['embed']:>6.1f} {s['store']:>6.1f} {r['wait_pct']:>6.1f} {r['embed_calls']:>5.0f} {r['chunks_per_call']:>8.1f} {load:>6}")

    for i, r in enumerate(runs, 1):
        row(str(i), r, r["files"], f"{r['load_1m_before']:.2f}")
    row("median", med, runs[-1]["files"], "")
    verdict = "within" if med["ratio"] <= TARGET else "OVER"
    print(f"whole / embedding alone: {med['ratio']:.2f}x (median of {len(runs)}; target <= {TARGET:.2f}x: {verdict})")
    failures = runs[-1]["failures"]
    if failures:
        print(f"failed files ({len(failures)}): " + "; ".join(failures))


NOTES = """\
notes: whole = Ingestor.ingest wall time into a fresh collection; floor = the texts it gave the encoder
  (its chunks headed by their titles) embedded alone (one embed_batch call, same encoder and batch
  size) right after; ratio = whole / floor.
  Stage shares are stage seconds / whole wall time. Parse and chunk run in a background thread
  that overlaps embedding, so the shares can add up to more than 100%. wait% = wall time the main
  thread spent neither embedding nor storing (waiting for the parser, discovery, opening the
  collection). calls / per call = embed_batch calls made by ingestion and chunks per call (the floor
  is one call). load1m = 1-minute load average when the run started; other processes share the CPU."""


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=3, help="runs per corpus (median reported; default 3)")
    ap.add_argument("--quick", action="store_true", help=f"small subset ({QUICK_PDFS} PDFs, {QUICK_ABSTRACTS} abstracts)")
    ap.add_argument("--limit", type=int, default=None,
                    help="at most N files per corpus (the first N abstracts, the N smallest PDFs)")
    ap.add_argument("--corpus", choices=("all", "financebench", "scifact"), default="all")
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA, help=f"datasets folder (default {DEFAULT_DATA})")
    ap.add_argument("--models-home", type=Path, default=default_models_home(),
                    help="provisioned models (default $RAG_HOME/models or <repo>/.rag-home/models)")
    ap.add_argument("--batch-size", type=int, default=None, help="embed_batch_size (default: the setting's default)")
    ap.add_argument("--json", action="store_true", help="print JSON instead of tables")
    args = ap.parse_args(argv)

    corpora = ["scifact", "financebench"] if args.corpus == "all" else [args.corpus]
    with tempfile.TemporaryDirectory(prefix="rag-bench-") as scratch:
        scratch = Path(scratch)
        extra = {"embed_batch_size": args.batch_size} if args.batch_size else {}
        base = make_settings(scratch / "home", args.models_home, **extra)
        note(f"loading encoder {base.embedding_model} from {args.models_home} ...")
        embedder = load_embedder(base)
        batch = getattr(embedder, "batch_size", base.embed_batch_size)  # 0 in the settings = the device's default
        report = {"machine": machine(), "encoder": embedder.name, "embed_batch_size": batch,
                  "chunk_tokens": base.chunk_tokens, "chunk_overlap_tokens": base.chunk_overlap_tokens,
                  "runs": args.runs, "quick": args.quick, "limit": args.limit, "corpora": {}}
        for name in corpora:
            if name == "scifact":
                folder = scratch / "scifact"
                folder.mkdir()
                files = scifact_files(args.data, args.limit or (QUICK_ABSTRACTS if args.quick else None), folder)
            else:
                files = financebench_files(args.data, args.limit or (QUICK_PDFS if args.quick else None))
            runs = []
            for i in range(args.runs):
                note(f"{name}: run {i + 1}/{args.runs} ({len(files)} files) ...")
                runs.append(one_run(files, embedder, args.models_home, batch))
                note(f"  whole {runs[-1]['whole_s']:.1f}s, floor {runs[-1]['floor_s']:.1f}s")
            report["corpora"][name] = {"runs": runs, "median": summarise(runs)}
        report["machine"]["loadavg_end"] = [round(x, 2) for x in __import__("os").getloadavg()]

    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print(machine_line(report["machine"]))
    print(f"encoder {report['encoder']}, embed_batch_size {batch}, chunk {report['chunk_tokens']} tokens "
          f"/ overlap {report['chunk_overlap_tokens']}; {args.runs} run(s) per corpus"
          + (" (quick subset)" if args.quick else "") + (f" (first {args.limit} files)" if args.limit else ""))
    for name, res in report["corpora"].items():
        print_table(name, res["runs"], res["median"])
    print()
    print(NOTES)
    print("load average at the end: " + " ".join(f"{x:.2f}" for x in report["machine"]["loadavg_end"]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
