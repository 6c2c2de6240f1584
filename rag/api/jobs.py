"""Background ingestion of uploads: one worker thread, one job at a time per process.

An upload is saved into a staging folder of its own (``uploads/<collection>/.staging/<job>``)
and acknowledged with a job recorded in SQLite (:mod:`rag.api.jobstore`). The worker
moves each file to ``uploads/<collection>/<name>`` and ingests it from there, so a file
uploaded again under the same name replaces its document (and identical content is
reported ``unchanged``); the staging folder is removed when the job ends. Jobs survive
a restart: those a stopped server left unfinished are resumed, or reported interrupted.
"""

from __future__ import annotations

import logging
import os
import queue
import shutil
import threading
import uuid
from datetime import datetime, timezone
from pathlib import Path

from rag.api.jobstore import JobStore
from rag.errors import NotFoundError, RagError
from rag.schemas import FileResult, IngestJob

log = logging.getLogger("rag.api")

#: Finished jobs remembered for GET /v1/jobs/{id}; the oldest are forgotten first.
KEEP_FINISHED = 1000


def staging_dir(uploads: Path, job_id: str) -> Path:
    """Where a job's files wait until the worker takes them (under the collection's uploads)."""
    return uploads / ".staging" / job_id


class IngestJobs:
    """Queues uploads for ingestion and reports their progress.

    Args:
        settings: the product settings (jobs are stored in ``settings.home / "jobs.sqlite"``).
        service: the :class:`rag.pipeline.RAGService` whose encoder ingestion shares.
        metrics: the app's :class:`rag.api.metrics.Metrics`.
    """

    def __init__(self, settings, service, metrics) -> None:
        self.settings = settings
        self.service = service
        self.metrics = metrics
        self.store = JobStore(settings.home / "jobs.sqlite", KEEP_FINISHED)
        self._lock = threading.Lock()  # read-modify-write of one job's record
        self._queue: queue.Queue = queue.Queue()
        self._ingestor = None
        self._recover()
        # A daemon thread: stopping the server does not wait for a long ingestion
        # (a file counts once its transaction has committed; the store survives a kill).
        self._worker = threading.Thread(target=self._work, name="rag-ingest", daemon=True)
        self._worker.start()

    @staticmethod
    def new_id() -> str:
        return uuid.uuid4().hex

    def submit(self, job_id: str, collection: str, uploads: Path, files: list[tuple[Path, str]]) -> IngestJob:
        """Queue staged files (path, original name) for ingestion into ``collection``, whose
        uploaded files live in ``uploads``."""
        job = IngestJob(job_id=job_id, collection=collection, state="queued", files_total=len(files),
                        created_at=datetime.now(timezone.utc))
        placed = [{"staged": str(path), "path": str(uploads / path.name), "name": name} for path, name in files]
        self.store.add(job, placed)  # durable before the upload is acknowledged
        self.metrics.jobs_active.inc()
        self._queue.put(job_id)
        return job

    def get(self, job_id: str) -> IngestJob:
        job = self.store.get(job_id)
        if job is None:
            raise NotFoundError(f"no ingestion job '{job_id}'")
        return job

    def stop(self) -> None:
        self._queue.put(None)
        if self._ingestor is not None:
            self._ingestor.load.close()

    # ------------------------------------------------------------------ restart
    def _recover(self) -> None:
        """Resume the jobs a stopped server left unfinished, or report them interrupted."""
        for job in self.store.orphans():
            files = self.store.files(job.job_id)
            if all(Path(f["staged"]).exists() or Path(f["path"]).exists() for f in files):
                self.store.save(job.model_copy(update={"state": "queued", "resumed": True, "results": [],
                                                       "files_done": 0}))
                self.metrics.jobs_active.inc()
                self._queue.put(job.job_id)
                log.info("ingestion job %s resumed after a restart", job.job_id)
            else:
                self.store.save(job.model_copy(update={
                    "state": "interrupted",
                    "error": "the server stopped during this job and its files are gone; upload them again"}))
                self._clean(files)

    # ------------------------------------------------------------------ worker
    def _work(self) -> None:
        while True:
            job_id = self._queue.get()
            if job_id is None:
                return
            try:
                self._run(job_id)
            except Exception:  # noqa: BLE001 - the worker must go on
                log.exception("ingestion job %s could not be recorded", job_id)
            finally:
                self.metrics.jobs_active.dec()

    def _run(self, job_id: str) -> None:
        job = self.store.get(job_id)
        files = self.store.files(job_id)
        names = {str(Path(f["path"]).resolve()): f["name"] for f in files}
        self._update(job_id, state="running")

        def on_result(result: FileResult) -> None:
            shown = result.model_copy(update={"path": names.get(result.path, result.path)})
            self.metrics.files.labels(result.status).inc()
            with self._lock:
                current = self.store.get(job_id)
                results = [*current.results, shown]
                self.store.save(current.model_copy(update={"results": results, "files_done": len(results)}))

        try:
            if not self.service.collections.exists(job.collection):
                raise NotFoundError(f"collection '{job.collection}' was deleted before its upload was ingested")
            paths = _place(files)
            summary = self._get_ingestor().ingest(paths, job.collection, on_result=on_result)
        except Exception as exc:  # noqa: BLE001 - a failed job is reported, the worker goes on
            if not isinstance(exc, RagError):
                log.exception("ingestion job %s failed", job_id)
            message = exc.message if isinstance(exc, RagError) else "ingestion failed unexpectedly; see the server log"
            self._update(job_id, state="failed", error=message)
            self.metrics.jobs.labels("failed").inc()
            return
        finally:
            self._clean(files)
        summary = summary.model_copy(update={
            "files": [f.model_copy(update={"path": names.get(f.path, f.path)}) for f in summary.files]})
        failed_all = summary.files and summary.failed == len(summary.files)
        state = "failed" if failed_all else "succeeded"
        error = ("no file could be ingested: " + "; ".join(f"{f.path}: {f.reason}" for f in summary.files)
                 if failed_all else None)
        self._update(job_id, state=state, summary=summary, results=summary.files,
                     files_done=len(summary.files), error=error)
        self.metrics.jobs.labels(state).inc()
        self.metrics.ingest_chunks.inc(summary.chunks)
        for stage, seconds in summary.timings.items():
            self.metrics.ingest_seconds.labels(stage).inc(seconds)

    def _get_ingestor(self):
        if self._ingestor is None:
            from ingest.loaders.isolated import IsolatedLoader
            from ingest.pipeline import Ingestor

            # Uploads are untrusted: each file is parsed in a child process with a time limit.
            loader = IsolatedLoader(self.settings.parse_timeout, self.settings.parse_memory_mb)
            self._ingestor = Ingestor(self.settings, embedder=self.service.embedder, load=loader)
        return self._ingestor

    def _update(self, job_id: str, **fields) -> None:
        with self._lock:
            self.store.save(self.store.get(job_id).model_copy(update=fields))

    @staticmethod
    def _clean(files: list[dict]) -> None:
        """Remove the job's staging folder (the placed files stay: they are the documents' sources)."""
        for folder in {Path(f["staged"]).parent for f in files}:
            shutil.rmtree(folder, ignore_errors=True)


def _place(files: list[dict]) -> list[Path]:
    """Move staged files to their final names (replacing an earlier upload of the same name)."""
    paths = []
    for f in files:
        staged, final = Path(f["staged"]), Path(f["path"])
        if staged.exists():
            os.replace(staged, final)
        paths.append(final)
    return paths
