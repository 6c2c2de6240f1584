"""Faults: kill -9 a real server at random moments while clients upload and it ingests.

Every round starts the server on the same home, first checks what the previous round
left (the jobs it acknowledged are resumed and finish; every acknowledged document is
present and searchable; FAISS ids equal SQLite ids), then uploads tiny files from a
client thread and kills the server -9 at a random moment. ``RAG_FAULT_ROUNDS`` (default
20) and ``RAG_FAULT_SEED`` reproduce a run.
"""

from __future__ import annotations

import os
import random
import threading
import time

import httpx
import pytest

from rag.client import RAGClient
from rag.store import CollectionManager
from tests.api_server import start_server

pytestmark = pytest.mark.slow

ROUNDS = int(os.environ.get("RAG_FAULT_ROUNDS", "20"))
UPLOADS_PER_ROUND = 6


def _uploader(url: str, folder, rnd: random.Random, acked: dict, stop: threading.Event) -> None:
    """Upload 1-2 new files at a time (a few requests a round: ingestion must keep up) until
    the server dies; record each acknowledged job."""
    n = len(acked)
    with httpx.Client(base_url=url, timeout=10) as http:
        for _ in range(UPLOADS_PER_ROUND):
            if stop.wait(rnd.uniform(0.0, 0.4)):
                return
            names = []
            for _ in range(rnd.randint(1, 2)):
                n += 1
                name = f"note{n:04d}-{rnd.randrange(10**6):06d}.txt"
                (folder / name).write_text(f"Fault note {n}: the code word is kw{name[4:8]}x{name[9:15]}.\n")
                names.append(name)
            try:
                files = [("files", (name, (folder / name).read_bytes(), "text/plain")) for name in names]
                r = http.post("/v1/collections/docs/documents", files=files)
            except httpx.TransportError:
                return  # killed mid-request: not acknowledged
            assert r.status_code < 500, r.text
            if r.status_code == 202:
                for name in names:
                    acked[name] = r.json()["job_id"]


def _check(url: str, settings, acked: dict, recent: set) -> None:
    with RAGClient(url, timeout=60) as client:
        for job_id in sorted(set(acked.values())):
            job = client.wait_for_job(job_id, timeout=120, poll=0.1)
            assert job.state == "succeeded", (job_id, job.state, job.error)
        stored = {d.source.rsplit("/", 1)[-1]: d for d in client.list_documents("docs")}
        missing = sorted(set(acked) - set(stored))
        assert not missing, f"acknowledged documents lost: {missing[:5]}"
        for name in sorted(recent):  # searchable (BM25 on the file's own code word)
            hits = client.retrieve("docs", f"kw{name[4:8]}x{name[9:15]}", k=1, mode="bm25").hits
            assert hits and hits[0].source.endswith(name), name
    with CollectionManager(settings).open("docs") as col:
        state = col.index_state()
        assert state["index_ids"] == state["record_ids"], "FAISS ids differ from SQLite ids"
        assert len(col.documents()) == len(stored)


def test_kill_9_during_uploads_and_ingestion(tmp_path, models_home):
    from rag.config import get_settings

    seed = int(os.environ.get("RAG_FAULT_SEED", time.time()))
    rnd = random.Random(seed)
    print(f"fault test seed {seed}, {ROUNDS} rounds")
    home, folder = tmp_path / "home", tmp_path / "files"
    folder.mkdir()
    settings = get_settings(home=home, models_home=models_home)
    acked: dict[str, str] = {}  # file name -> job id of its acknowledged upload
    recent: set[str] = set()
    survived = 0
    for round_ in range(ROUNDS + 1):
        server = start_server(home, models_home, args=("--no-warm-up",), wait_for="/healthz")
        try:
            if round_ == 0:
                RAGClient(server.url).create_collection("docs")
            _check(server.url, settings, acked, recent)
            survived += round_ > 0
            if round_ == ROUNDS:
                break
            before = set(acked)
            stop = threading.Event()
            thread = threading.Thread(target=_uploader, args=(server.url, folder, rnd, acked, stop))
            thread.start()
            time.sleep(rnd.uniform(0.2, 3.0))
            server.kill()
            stop.set()
            thread.join(30)
            recent = set(acked) - before
        finally:
            server.stop() if server.proc.poll() is None else None
    print(f"fault test: {survived} kill -9 rounds survived, {len(acked)} acknowledged files, all present")
    assert survived == ROUNDS and len(acked) >= ROUNDS
