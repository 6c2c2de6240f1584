"""Background ingestion of uploads: one worker thread, one job at a time per process."""

from __future__ import annotations

import logging
import queue
import threading
import uuid
from collections import OrderedDict
from datetime import datetime, timezone
from pathlib import Path

from rag.errors import NotFoundError, RagError
from rag.schemas import FileResult, IngestJob

log = logging.getLogger("rag.api")

#: Finished jobs remembered for GET /v1/jobs/{id}; the oldest are forgotten first.
KEEP_FINISHED = 1000


class IngestJobs:
    """Queues uploads for ingestion and reports their progress.

    Args:
        settings: the product settings.
        service: the :class:`rag.pipeline.RAGService` whose encoder ingestion shares.
        metrics: the app's :class:`rag.api.metrics.Metrics`.
    """

    def __init__(self, settings, service, metrics) -> None:
        self.settings = settings
        self.service = service
        self.metrics = metrics
        self._jobs: OrderedDict[str, IngestJob] = OrderedDict()
        self._lock = threading.Lock()
        self._queue: queue.Queue = queue.Queue()
        self._ingestor = None
        # A daemon thread: stopping the server does not wait for a long ingestion
        # (a file counts once its transaction has committed; the store survives a kill).
        self._worker = threading.Thread(target=self._work, name="rag-ingest", daemon=True)
        self._worker.start()

    @staticmethod
    def new_id() -> str:
        return uuid.uuid4().hex

    def submit(self, job_id: str, collection: str, files: list[tuple[Path, str]]) -> IngestJob:
        """Queue saved files (path, original name) for ingestion into ``collection``."""
        job = IngestJob(job_id=job_id, collection=collection, state="queued", files_total=len(files),
                        created_at=datetime.now(timezone.utc))
        with self._lock:
            self._jobs[job_id] = job
            self._forget_old()
        self.metrics.jobs_active.inc()
        self._queue.put((job_id, collection, files))
        return job.model_copy(deep=True)

    def get(self, job_id: str) -> IngestJob:
        with self._lock:
            job = self._jobs.get(job_id)
            if job is None:
                raise NotFoundError(f"no ingestion job '{job_id}' (jobs are kept in memory until the server stops)")
            return job.model_copy(deep=True)

    def stop(self) -> None:
        self._queue.put(None)
        if self._ingestor is not None:
            self._ingestor.load.close()

    # ------------------------------------------------------------------ worker
    def _work(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            job_id, collection, files = item
            try:
                self._run(job_id, collection, files)
            finally:
                self.metrics.jobs_active.dec()

    def _run(self, job_id: str, collection: str, files: list[tuple[Path, str]]) -> None:
        names = {str(path.resolve()): original for path, original in files}
        self._update(job_id, state="running")

        def on_result(result: FileResult) -> None:
            shown = result.model_copy(update={"path": names.get(result.path, result.path)})
            self.metrics.files.labels(result.status).inc()
            with self._lock:
                job = self._jobs[job_id]
                job.results.append(shown)
                job.files_done = len(job.results)

        try:
            if not self.service.collections.exists(collection):
                raise NotFoundError(f"collection '{collection}' was deleted before its upload was ingested")
            summary = self._get_ingestor().ingest([p for p, _ in files], collection, on_result=on_result)
        except Exception as exc:  # noqa: BLE001 - a failed job is reported, the worker goes on
            if not isinstance(exc, RagError):
                log.exception("ingestion job %s failed", job_id)
            message = exc.message if isinstance(exc, RagError) else "ingestion failed unexpectedly; see the server log"
            self._update(job_id, state="failed", error=message)
            self.metrics.jobs.labels("failed").inc()
            return
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
            job = self._jobs[job_id]
            self._jobs[job_id] = job.model_copy(update=fields)

    def _forget_old(self) -> None:
        finished = [k for k, j in self._jobs.items() if j.state in ("succeeded", "failed")]
        for key in finished[: max(0, len(finished) - KEEP_FINISHED)]:
            self._jobs.pop(key)
