"""Where the questions go: the in-process pipeline or a running server."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from rag.schemas import AskRequest, AskResponse


class Backend(Protocol):
    """Prepares a collection from a corpus folder and answers questions about it."""

    def prepare(self, collection: str, corpus: Path) -> None: ...

    def ask(self, collection: str, request: AskRequest) -> AskResponse: ...

    def describe(self) -> str: ...

    def recipe(self) -> dict | None:
        """How the backend chunks and embeds (None when unknown): part of the collection's name."""
        ...


class InProcessBackend:
    """The engine in this process: ingestion with :class:`ingest.pipeline.Ingestor`, answers with
    :class:`rag.pipeline.RAGService` (and its verifier, when one is configured)."""

    def __init__(self, settings, service=None) -> None:
        self.settings = settings
        self._service = service
        self._ingestor = None

    @property
    def service(self):
        if self._service is None:
            from rag.pipeline import RAGService

            self._service = RAGService(self.settings)
        return self._service

    @property
    def ingestor(self):
        if self._ingestor is None:
            from ingest.pipeline import Ingestor

            self._ingestor = Ingestor(self.settings, embedder=self.service.embedder)
        return self._ingestor

    def recipe(self) -> dict:
        return self.ingestor.recipe

    def prepare(self, collection: str, corpus: Path) -> None:
        summary = self.ingestor.ingest([corpus], collection, prune=True)
        failed = [f for f in summary.files if f.status == "failed"]
        if failed:
            import sys

            print(f"warning: {len(failed)} corpus file(s) failed to ingest, e.g. {failed[0].path}: {failed[0].reason}",
                  file=sys.stderr)

    def ask(self, collection: str, request: AskRequest) -> AskResponse:
        return self.service.ask(collection, request)

    def describe(self) -> str:
        return f"in-process ({self.settings.generator_backend}: {self.settings.generator_model or 'default model'})"


class RemoteBackend:
    """A running server, through the Python SDK (uploads the corpus, then asks)."""

    def __init__(self, url: str, api_key: str | None = None, timeout: float = 600.0) -> None:
        from rag.client import RAGClient

        self.url = url
        self.client = RAGClient(url, api_key=api_key, timeout=timeout)

    def prepare(self, collection: str, corpus: Path) -> None:
        names = {c.name for c in self.client.list_collections()}
        if collection not in names:
            self.client.create_collection(collection)
            files = sorted(p for p in Path(corpus).rglob("*") if p.is_file())
            job = self.client.upload(collection, files)
            self.client.wait_for_job(job.job_id, timeout=3600)

    def ask(self, collection: str, request: AskRequest) -> AskResponse:
        return self.client.ask(collection, request.query, k=request.k, mode=request.mode, max_tokens=request.max_tokens)

    def describe(self) -> str:
        return f"server {self.url}"

    def recipe(self) -> None:
        return None

