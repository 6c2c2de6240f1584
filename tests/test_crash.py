"""Crash safety: kill -9 a real ingest process at random moments, then check the collection.

After every kill the reopened collection must be at a committed state: every file the
process acknowledged is there with all its chunks, the FAISS index holds exactly the
stored chunks (no orphan vectors) and search works. A final run completes the rest.
"""

from __future__ import annotations

import os
import queue
import random
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

from rag.store import CollectionManager
from tests.conftest import ROOT, scifact_files

WORKER = """
import sys
import threading
from rag.config import get_settings
from ingest.pipeline import Ingestor
settings = get_settings(home=sys.argv[1], models_home=sys.argv[2])
def ack(r):
    print("ACK", r.status, r.chunks, r.path, flush=True)
Ingestor(settings).ingest([sys.argv[3]], "crash", on_result=ack)
print("DONE", flush=True)
"""


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """300 real SciFact abstracts, one text file each."""
    return scifact_files(tmp_path_factory.mktemp("scifact"), 300)


def run_worker(home, models_home, corpus, kill_after: float | None):
    """Run an ingest process; kill -9 it ``kill_after`` seconds after its first ack."""
    proc = subprocess.Popen(
        [sys.executable, "-c", WORKER, str(home), str(models_home), str(corpus)],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in proc.stdout], daemon=True).start()
    acked: dict[str, int] = {}
    finished = False
    deadline = None
    while True:
        try:
            line = lines.get(timeout=0.01)
        except queue.Empty:
            line = None
        if line and line.startswith("ACK"):
            _, status, chunks, path = line.rstrip("\n").split(" ", 3)
            if status in ("ingested", "replaced"):
                acked[path] = int(chunks)
            if deadline is None and kill_after is not None:
                deadline = time.monotonic() + kill_after
        elif line and line.startswith("DONE"):
            finished = True
        if deadline is not None and time.monotonic() >= deadline and proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            return acked, False
        if line is None and proc.poll() is not None and lines.empty():
            time.sleep(0.2)
            if lines.empty():
                return acked, finished


def check(settings, acked: dict[str, int]) -> int:
    with CollectionManager(settings).open("crash") as col:
        docs = {d.source: d for d in col.documents()}
        for path, chunks in acked.items():
            assert path in docs, f"acknowledged document lost: {path}"
            assert docs[path].chunks == chunks
        state = col.index_state()
        assert state["index_ids"] == state["record_ids"], "orphan or missing vectors"
        n_rows = col.connection.execute("SELECT COUNT(*) FROM chunks").fetchone()[0]
        assert n_rows == sum(d.chunks for d in docs.values())
        if docs:
            blob = col.connection.execute("SELECT vector FROM chunks LIMIT 1").fetchone()[0]
            assert col.search(np.frombuffer(blob, dtype="float32"), 3)[0].score > 0.99
        return len(docs)


@pytest.mark.slow
def test_kill_9_at_random_moments(settings, corpus, embedder):
    seed = int(os.environ.get("RAG_CRASH_SEED", time.time()))
    rnd = random.Random(seed)
    print(f"crash test seed {seed}")
    all_acked: dict[str, int] = {}
    kills = 0
    for _ in range(4):
        acked, finished = run_worker(settings.home, settings.models_dir, corpus, kill_after=rnd.uniform(0.0, 2.5))
        all_acked.update(acked)
        if finished:
            break
        kills += 1
        check(settings, all_acked)
    assert kills >= 2, "the worker finished before it could be killed; the corpus is too small"
    acked, finished = run_worker(settings.home, settings.models_dir, corpus, kill_after=None)
    assert finished
    all_acked.update(acked)
    assert check(settings, all_acked) == 300
