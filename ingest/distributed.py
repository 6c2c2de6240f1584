"""Ingestion on a Ray cluster: the same loaders, chunker and encoder as the local
pipeline, run as Ray Data ``map_batches`` stages.

    files ─▶ parse + chunk (CPU actors) ─▶ embed (GPU actors where the cluster has GPUs)
          ─▶ write (this process: the collection's one writer)

The writer is the driver: it commits documents batch by batch exactly as
:class:`ingest.pipeline.Ingestor` does, into an ordinary or a sharded collection
(each shard's FAISS index and SQLite rows). So the per-file report, the exit codes and
the crash safety are the local path's: a file counts as ingested once its transaction
has committed; a killed worker's batch is retried by Ray (parsing and embedding have no
side effects), and a killed driver leaves every shard at its last commit, which a rerun
completes (files already stored are unchanged, so nothing is stored twice).

Ray is imported only here, and only when this path is used (the ``scale`` extra).
"""

from __future__ import annotations

import pickle
import time
from pathlib import Path
from typing import Callable, Iterable

from ingest.discover import discover
from ingest.pipeline import BATCH_CHUNKS, Ingestor, _progress_bar
from rag.errors import ConfigError, require
from rag.schemas import FileResult, IngestSummary

#: Files per parse task and per embedding call.
PARSE_BATCH = 8
EMBED_BATCH = 32


class _Parse:
    """Ray actor: loads and chunks files (holds the encoder's tokenizer for chunk sizes)."""

    def __init__(self, settings) -> None:
        self.ingestor = Ingestor(settings)
        self.ingestor.embedder.warm_up()  # the chunker counts tokens with the encoder's tokenizer

    def __call__(self, batch: dict) -> dict:
        out = []
        for task in batch["task"]:
            cand, prior = pickle.loads(task)
            timings = {"parse": 0.0, "chunk": 0.0}
            parsed = self.ingestor.parse(cand, {str(cand.path): prior} if prior else {}, timings)
            out.append(pickle.dumps((parsed, timings)))
        return {"parsed": out}


class _Embed:
    """Ray actor: embeds the chunks of a batch of parsed files in one encoder call."""

    def __init__(self, settings, threads: int) -> None:
        import torch

        torch.set_num_threads(max(1, threads))
        self.ingestor = Ingestor(settings)
        self.ingestor.embedder.warm_up()

    def __call__(self, batch: dict) -> dict:
        import numpy as np

        items = [pickle.loads(p) for p in batch["parsed"]]
        todo = [parsed for parsed, _ in items if parsed.document is not None]
        t0 = time.perf_counter()
        vectors = self.ingestor.embed(todo) if todo else np.zeros((0, 0), dtype="float32")
        seconds = time.perf_counter() - t0
        out, offset = [], 0
        for parsed, timings in items:
            n = len(parsed.chunks) if parsed.document is not None else 0
            timings["embed"] = seconds * n / max(1, len(vectors))
            out.append(pickle.dumps((parsed, timings, vectors[offset:offset + n] if n else None)))
            offset += n
        return {"embedded": out}


class RayIngestor:
    """Ingests files like :class:`ingest.pipeline.Ingestor`, with parsing and embedding
    spread over a Ray cluster.

    Args:
        settings: the product settings (sent to the workers; they need the same models).
        address: the Ray cluster: ``local`` starts one in this process, ``auto`` finds a
            running one, ``HOST:PORT`` or ``ray://HOST:PORT`` connects to it. An
            already-initialized Ray is used as it is.
        workers: actors per stage (default: one per CPU of the cluster, halved).

    Example:
        >>> RayIngestor(settings, "local", workers=2).ingest(["docs/"], "handbook")  # doctest: +SKIP
    """

    def __init__(self, settings, address: str = "local", *, workers: int | None = None, ingestor=None) -> None:
        self.settings = settings
        self.address = address
        self.workers = workers
        self.ingestor = ingestor or Ingestor(settings)

    def _ray(self):
        ray = require("ray", "scale")
        if not ray.is_initialized():
            kwargs = {"include_dashboard": False, "log_to_driver": False, "configure_logging": False}
            try:
                if self.address == "local":
                    ray.init(**kwargs)
                else:
                    ray.init(address=self.address, **kwargs)
            except ConnectionError as exc:
                raise ConfigError(f"cannot reach the Ray cluster at '{self.address}': {exc}") from exc
        return ray

    def ingest(
        self,
        paths: Iterable[str | Path],
        collection: str,
        *,
        prune: bool = False,
        tags: list[str] | None = None,
        progress: bool = False,
        on_result: Callable[[FileResult], None] | None = None,
        shards: int | None = None,
    ) -> IngestSummary:
        """As :meth:`ingest.pipeline.Ingestor.ingest`; parsing and embedding run on Ray."""
        started = time.perf_counter()
        candidates, roots = discover(list(paths))
        ing = self.ingestor
        timings = {"parse": 0.0, "chunk": 0.0, "embed": 0.0, "store": 0.0}
        results: list[FileResult] = []
        col = ing.manager.open_or_create(collection, embedding_model=ing.embedder.name,
                                         dimension=ing.embedder.dimension, recipe=ing.recipe, shards=shards)
        try:
            known = {d.source: d for d in col.documents()}
            bar = _progress_bar(len(candidates), progress)

            def done(new: list[FileResult]) -> None:
                results.extend(new)
                bar.update(len(new))
                for r in new:
                    if on_result is not None:
                        on_result(r)

            pending: list = []
            for parsed, part, vectors in self._run(candidates, known, progress):
                for key, seconds in part.items():
                    timings[key] += seconds
                if parsed.document is None:
                    done([parsed.result])
                    continue
                pending.append((parsed, vectors))
                if sum(len(p.chunks) for p, _ in pending) >= BATCH_CHUNKS:
                    done(self._commit(col, pending, tags or [], timings))
                    pending = []
            if pending:
                done(self._commit(col, pending, tags or [], timings))
            bar.close()
            ing.finish(col, prune, candidates, roots, known, results, done, timings)
        finally:
            col.close()
        return IngestSummary.from_files(collection, results, time.perf_counter() - started, timings)

    def _commit(self, col, pending, tags, timings) -> list[FileResult]:
        import numpy as np

        batch = [p for p, _ in pending]
        return self.ingestor.commit(col, batch, np.concatenate([v for _, v in pending]), tags, timings)

    def _run(self, candidates, known, progress: bool):
        """(parsed file, its timings, its vectors or None) for every candidate, in order."""
        if not candidates:
            return
        ray = self._ray()
        ctx = ray.data.DataContext.get_current()
        ctx.execution_options.preserve_order = True  # commits in the order files were named
        ctx.enable_progress_bars = progress
        cpus = max(1, int(ray.cluster_resources().get("CPU", 1)))
        gpus = int(ray.cluster_resources().get("GPU", 0))
        workers = self.workers or max(1, cpus // 2)
        share = min(1.0, cpus / (2 * workers))  # both stages' actors fit on the cluster at once
        items = [{"task": pickle.dumps((c, known.get(str(c.path))))} for c in candidates]
        ds = ray.data.from_items(items, override_num_blocks=max(1, min(len(items), 4 * workers)))
        pool = ray.data.ActorPoolStrategy
        ds = ds.map_batches(_Parse, fn_constructor_args=(self.settings,), batch_size=PARSE_BATCH,
                            compute=pool(size=workers), num_cpus=share)
        embed_args = {"num_gpus": 1} if gpus else {"num_cpus": share}
        ds = ds.map_batches(_Embed, fn_constructor_args=(self.settings, max(1, int(cpus / workers))),
                            batch_size=EMBED_BATCH, compute=pool(size=min(workers, gpus) if gpus else workers),
                            **embed_args)
        for row in ds.iter_rows():
            yield pickle.loads(row["embedded"])

