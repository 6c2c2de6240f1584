"""Ingestion on Ray: files/s with 1 and 2 workers against the local pipeline.

Writes the first N SciFact abstracts as text files (untimed), starts a local Ray cluster
(``ray.init``, all CPUs unless --cpus), then alternates, for each run: the local
``Ingestor`` (the baseline), ``rag ingest --ray`` with 1 worker per stage and with 2,
each into a fresh collection of a throw-away home. Times are whole runs (Ray's actor
start-up, which loads the encoder in every actor, included). Prints the median [range]
files/s of each and its ratio to the local pipeline's.

Run (needs the 'scale' extra):
    RAG_HOME=.rag-home python benchmarks/ray_ingest.py --files 100 --runs 3

This is a program that prints figures; it never fails on a time.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(_HERE.parent))
from benchmarks._common import (DEFAULT_DATA, default_models_home, load_embedder, loadavg_1m, machine,  # noqa: E402
                                machine_line, make_settings, median, note)


def write_corpus(folder: Path, n: int) -> Path:
    folder.mkdir(parents=True)
    with (DEFAULT_DATA / "scifact" / "corpus.jsonl").open() as fh:
        for _, line in zip(range(n), fh):
            rec = json.loads(line)
            (folder / f"{rec['doc_id']}.txt").write_text(rec["title"] + "\n\n" + " ".join(rec["abstract"]))
    return folder


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--files", type=int, default=100)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--cpus", type=int, default=None, help="CPUs of the local Ray cluster (default: all)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    import ray

    from ingest.distributed import RayIngestor
    from ingest.pipeline import Ingestor

    tmp = Path(tempfile.mkdtemp(prefix="rag-bench-ray-"))
    try:
        corpus = write_corpus(tmp / "corpus", args.files)
        models_home = default_models_home()
        ray.init(num_cpus=args.cpus, include_dashboard=False, log_to_driver=False, configure_logging=False)
        embedder = load_embedder(make_settings(tmp / "warm", models_home))
        rates: dict[str, list[float]] = {"local": [], "ray-1": [], "ray-2": []}
        loads = [loadavg_1m()]
        for run in range(args.runs):
            for label in rates:
                settings = make_settings(tmp / f"home-{label}-{run}", models_home)
                ingestor = Ingestor(settings, embedder=embedder)
                runner = ingestor if label == "local" else RayIngestor(
                    settings, workers=int(label[-1]), ingestor=ingestor)
                t0 = time.perf_counter()
                summary = runner.ingest([corpus], "bench")
                seconds = time.perf_counter() - t0
                assert summary.ingested == args.files, summary
                rates[label].append(args.files / seconds)
                loads.append(loadavg_1m())
                note(f"run {run + 1} {label}: {args.files / seconds:.2f} files/s ({seconds:.1f} s)")
        ray.shutdown()
        base = median(rates["local"])
        out = {"machine": machine(), "files": args.files, "runs": args.runs, "load_1m": loads,
               "files_per_s": {k: {"median": median(v), "min": min(v), "max": max(v), "runs": v,
                                   "vs_local": median(v) / base} for k, v in rates.items()}}
        if args.json:
            print(json.dumps(out))
        else:
            print(machine_line(out["machine"]))
            print(f"{args.files} SciFact abstracts, {args.runs} runs each, alternating; "
                  f"1-min load {min(loads):.2f}..{max(loads):.2f}")
            for k, v in out["files_per_s"].items():
                print(f"  {k:6s} {v['median']:6.2f} files/s [{v['min']:.2f}-{v['max']:.2f}]  "
                      f"x{v['vs_local']:.2f} of local")
        return 0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
