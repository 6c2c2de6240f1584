"""Ingestion jobs kept in SQLite (``HOME/jobs.sqlite``), so they survive a restart.

Each row holds the job as the API reports it (:class:`rag.schemas.IngestJob`, as JSON),
the files it ingests and the id of the process that owns it. When a server starts,
jobs left queued or running by a process that is gone are resumed if their files are
still there (ingestion is idempotent: files already committed come back ``unchanged``),
else reported ``interrupted``.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from pathlib import Path

from rag.models.provision import pid_alive
from rag.schemas import IngestJob

SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    job_id TEXT PRIMARY KEY,
    created_at TEXT NOT NULL,
    state TEXT NOT NULL,
    owner INTEGER NOT NULL,
    job TEXT NOT NULL,
    files TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS jobs_state ON jobs(state, created_at);
"""

#: States after which a job never changes again.
FINISHED = ("succeeded", "failed", "interrupted")


class JobStore:
    """Durable job records (thread-safe).

    Args:
        path: the SQLite file.
        keep_finished: finished jobs kept for ``GET /v1/jobs/{id}``; the oldest are removed.
    """

    def __init__(self, path: Path, keep_finished: int = 1000) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(path, timeout=30, check_same_thread=False, isolation_level=None)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=FULL")  # an acknowledged upload's job survives a crash
        self._conn.executescript(SCHEMA)
        self._lock = threading.Lock()
        self.keep_finished = keep_finished

    def add(self, job: IngestJob, files: list[dict]) -> None:
        """Record a new job and its files (``{"path", "staged", "name"}`` each)."""
        with self._lock:
            self._conn.execute(
                "INSERT INTO jobs(job_id, created_at, state, owner, job, files) VALUES (?,?,?,?,?,?)",
                (job.job_id, job.created_at.isoformat(), job.state, os.getpid(), job.model_dump_json(),
                 json.dumps(files)))
            self._forget_old()

    def save(self, job: IngestJob) -> None:
        """Store the job's current state."""
        with self._lock:
            self._conn.execute("UPDATE jobs SET state = ?, job = ? WHERE job_id = ?",
                               (job.state, job.model_dump_json(), job.job_id))

    def get(self, job_id: str) -> IngestJob | None:
        with self._lock:
            row = self._conn.execute("SELECT job FROM jobs WHERE job_id = ?", (job_id,)).fetchone()
        return IngestJob.model_validate_json(row[0]) if row else None

    def files(self, job_id: str) -> list[dict]:
        with self._lock:
            row = self._conn.execute("SELECT files FROM jobs WHERE job_id = ?", (job_id,)).fetchone()
        return json.loads(row[0]) if row else []

    def orphans(self) -> list[IngestJob]:
        """Unfinished jobs whose owning process is gone, oldest first; they become this process's."""
        marks = ",".join("?" * len(FINISHED))
        with self._lock:
            rows = self._conn.execute(
                f"SELECT job_id, owner, job FROM jobs WHERE state NOT IN ({marks}) ORDER BY created_at", FINISHED
            ).fetchall()
            mine = [(job_id, job) for job_id, owner, job in rows if owner == os.getpid() or not pid_alive(owner)]
            for job_id, _ in mine:
                self._conn.execute("UPDATE jobs SET owner = ? WHERE job_id = ?", (os.getpid(), job_id))
        return [IngestJob.model_validate_json(job) for _, job in mine]

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def _forget_old(self) -> None:
        marks = ",".join("?" * len(FINISHED))
        self._conn.execute(
            f"DELETE FROM jobs WHERE job_id IN (SELECT job_id FROM jobs WHERE state IN ({marks}) "
            f"ORDER BY created_at DESC LIMIT -1 OFFSET ?)", (*FINISHED, self.keep_finished))

