"""The ingestion pipeline: discover → load → chunk → embed → store.

Loading and chunking run in a background thread, a few files ahead of embedding,
so parsing overlaps with the encoder (torch releases the GIL while it computes).
Chunks of several small files are embedded together in one batch, and the files of
a batch are committed together in one transaction: a file counts as ingested only
once that transaction has committed.
"""

from __future__ import annotations

import queue
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

from ingest.chunking import Chunker
from ingest.discover import Candidate, discover
from ingest.loaders import LoadedDocument, load_document
from rag.errors import LoadError
from rag.schemas import FileResult, IngestSummary
from rag.store import CollectionManager
from rag.store.base import ChunkRecord, NewDocument

#: Embed at least this many chunks at once (several small files share a batch). Batches
#: close on this count and at the end only, never on a timer: an encoder's output depends
#: in its last bits on what else is in the batch (padding changes the matrix shapes), so
#: batches cut by timing made two ingestions of the same files store different vectors,
#: and near-tied passages then swapped places in answers.
BATCH_CHUNKS = 256
#: Files loaded ahead of the encoder.
PREFETCH = 4


@dataclass
class _Parsed:
    candidate: Candidate
    result: FileResult
    document: LoadedDocument | None = None
    chunks: list[ChunkRecord] = field(default_factory=list)
    replaces: bool = False


#: Bump when loading, chunking or the text given to the encoder changes, so that
#: collections built the old way are refused rather than silently mixed with new chunks.
#: 3: PDFs read by pypdfium2 (hyphenation and whitespace differ from pypdf).
#: 4: a text file's own title line (ingest.loaders.text.text_title) heads its chunks for the encoder.
RECIPE_VERSION = 4


class Ingestor:
    """Ingests files into collections with one encoder, loaded once.

    Example:
        >>> ing = Ingestor(settings)  # doctest: +SKIP
        >>> summary = ing.ingest(["docs/"], "handbook")  # doctest: +SKIP
    """

    def __init__(self, settings, embedder=None, load: Callable[..., LoadedDocument] | None = None) -> None:
        """``load`` replaces :func:`load_document` (same signature), e.g. with an
        :class:`ingest.loaders.isolated.IsolatedLoader` for untrusted uploads."""
        from rag.embed import make_embedder

        self.settings = settings
        self.embedder = embedder or make_embedder(settings)
        self.load = load or load_document
        self.manager = CollectionManager(settings)
        self._chunker: Chunker | None = None

    @property
    def chunker(self) -> Chunker:
        if self._chunker is None:
            self._chunker = Chunker(
                self.embedder.count_tokens, self.settings.chunk_tokens, self.settings.chunk_overlap_tokens
            )
        return self._chunker

    @property
    def recipe(self) -> dict:
        """How this ingestor chunks and embeds; recorded in (and checked against) each collection."""
        return {
            "recipe_version": RECIPE_VERSION,
            "embedding_model": self.embedder.name,
            "encoder_backend": getattr(self.embedder, "backend", "torch"),
            "chunk_tokens": self.settings.chunk_tokens,
            "chunk_overlap_tokens": self.settings.chunk_overlap_tokens,
            # Only encoders with instructions add this, so other collections' recipes stay as they were.
            **({"encoder_prompts": prompts} if (prompts := getattr(self.embedder, "prompts", None)) else {}),
        }

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
        """Ingest files and folders into ``collection`` (created if needed).

        Unchanged files (same size and modification time, or same content) are
        skipped; changed ones replace their previous version; with ``prune``,
        documents whose files are gone from the named folders are removed. A file that
        fails keeps its previous version, if any, and is reported with its reason.
        ``on_result`` is called with each file's result once it is final (for an
        ingested file: once its transaction has committed). ``shards`` creates a missing
        collection as a sharded one (:mod:`rag.store.sharded`) and checks an existing one's count.
        """
        started = time.perf_counter()
        candidates, roots = discover(list(paths))
        timings = {"parse": 0.0, "chunk": 0.0, "embed": 0.0, "store": 0.0}
        results: list[FileResult] = []
        col = self.manager.open_or_create(
            collection, embedding_model=self.embedder.name, dimension=self.embedder.dimension, recipe=self.recipe,
            shards=shards,
        )
        producer = None
        try:
            known = {d.source: d for d in col.documents()}
            bar = _progress_bar(len(candidates), progress)
            work: queue.Queue = queue.Queue(maxsize=PREFETCH)
            stop = threading.Event()  # set when the consumer gives up: the producer must not wait on a full queue
            producer = threading.Thread(
                target=self._produce, args=(candidates, known, work, timings, stop), daemon=True,
                name="rag-ingest-parse",
            )
            producer.start()
            pending: list[_Parsed] = []

            def done(new: list[FileResult]) -> None:
                results.extend(new)
                bar.update(len(new))
                if on_result is not None:
                    for r in new:
                        on_result(r)

            while True:
                item = work.get()
                if item is None:
                    break
                if isinstance(item, BaseException):
                    raise item
                if item.document is None:
                    done([item.result])
                    continue
                pending.append(item)
                if sum(len(p.chunks) for p in pending) >= BATCH_CHUNKS:
                    done(self._embed_and_commit(col, pending, tags or [], timings))
                    pending = []
                bar.set_postfix(chunks=sum(r.chunks for r in results), refresh=False)
            if pending:
                done(self._embed_and_commit(col, pending, tags or [], timings))
            bar.close()
            self.finish(col, prune, candidates, roots, known, results, done, timings)
        finally:
            if producer is not None:
                stop.set()  # on an error (embedding failed...) the producer stops at its next file
            col.close()
        return IngestSummary.from_files(collection, results, time.perf_counter() - started, timings)

    # ------------------------------------------------------------------ stages
    def _produce(self, candidates, known, out: queue.Queue, timings, stop: threading.Event) -> None:
        """Load and chunk files one by one (background thread), until done or ``stop`` is set."""
        try:
            for cand in candidates:
                if stop.is_set() or not _put(out, self.parse(cand, known, timings), stop):
                    return
            _put(out, None, stop)
        except BaseException as exc:  # surfaces in the consumer
            _put(out, exc, stop)

    def parse(self, cand: Candidate, known, timings) -> _Parsed:
        """Load and chunk one file, or decide it is unchanged (``known``: stored documents by
        source) or failed; adds seconds to ``timings``."""
        t0 = time.perf_counter()
        source = str(cand.path)
        prior = known.get(source)
        if prior is not None:
            try:
                st = cand.path.stat()
                if st.st_size == prior.size and prior.mtime == st.st_mtime:
                    return _Parsed(cand, FileResult(path=source, status="unchanged", doc_id=prior.doc_id))
            except OSError:
                pass  # load_document reports it
        try:
            doc = self.load(cand.path, max_bytes=int(self.settings.max_file_mb * 1024 * 1024))
        except LoadError as exc:
            return _Parsed(cand, FileResult(path=source, status="failed", reason=exc.message,
                                            seconds=time.perf_counter() - t0))
        finally:
            timings["parse"] += time.perf_counter() - t0
        if prior is not None and prior.content_hash == doc.content_hash:
            return _Parsed(cand, FileResult(path=source, status="unchanged", doc_id=prior.doc_id))
        t1 = time.perf_counter()
        chunks = self.chunker.split(doc)
        timings["chunk"] += time.perf_counter() - t1
        if not chunks:
            return _Parsed(cand, FileResult(path=source, status="failed", reason="no text to index"))
        result = FileResult(path=source, status="replaced" if prior else "ingested",
                            pages=len(doc.pages), chunks=len(chunks), seconds=time.perf_counter() - t0)
        return _Parsed(cand, result, doc, chunks, replaces=prior is not None)

    def _embed_and_commit(self, col, batch: list[_Parsed], tags, timings) -> list[FileResult]:
        t0 = time.perf_counter()
        vectors = self.embed(batch)
        timings["embed"] += time.perf_counter() - t0
        return self.commit(col, batch, vectors, tags, timings, embed_seconds=time.perf_counter() - t0)

    def embed(self, batch: list[_Parsed]):
        """The vectors of every chunk of ``batch``, in order (one encoder call)."""
        return self.embedder.embed_batch([embedding_text(p, c) for p in batch for c in p.chunks])

    def commit(self, col, batch: list[_Parsed], vectors, tags, timings, *, embed_seconds: float = 0.0) -> list[FileResult]:
        """Store the parsed files of ``batch`` with their ``vectors`` in one transaction;
        their results, final (doc ids set) once it has committed."""
        t1 = time.perf_counter()
        new_docs, offset = [], 0
        for p in batch:
            n = len(p.chunks)
            doc = p.document
            new_docs.append(NewDocument(
                source=str(p.candidate.path), title=doc.title, kind=doc.kind, content_hash=doc.content_hash,
                size=_size(p.candidate.path), mtime=doc.mtime, pages=len(doc.pages), chunks=p.chunks,
                vectors=vectors[offset:offset + n], tags=list(tags), metadata=dict(doc.metadata),
            ))
            offset += n
        doc_ids = col.commit(new_docs)
        t2 = time.perf_counter()
        timings["store"] += t2 - t1
        share = (t2 - t1 + embed_seconds) / max(1, offset)
        for p, doc_id in zip(batch, doc_ids):
            p.result.doc_id = doc_id
            p.result.seconds += share * len(p.chunks)
        return [p.result for p in batch]

    def finish(self, col, prune: bool, candidates, roots, known, results: list[FileResult], done, timings) -> None:
        """The end of an ingestion, local or distributed: prune what is gone (when asked),
        then save the index."""
        if prune:
            pruned = self._prune(col, candidates, roots, known)
            gone = {r.path for r in pruned}
            # A named file that is gone is pruned, not failed.
            results[:] = [r for r in results if not (r.status == "failed" and r.path in gone)]
            done(pruned)
        t = time.perf_counter()
        col.save_index()
        timings["store"] += time.perf_counter() - t

    def _prune(self, col, candidates: list[Candidate], roots: list[Path], known) -> list[FileResult]:
        """Remove documents under the named folders (or named files) whose files are gone."""
        named = {str(c.path) for c in candidates if c.explicit}
        gone = []
        for source, doc in known.items():
            in_scope = source in named or any(Path(source).is_relative_to(r) for r in roots)
            if in_scope and not Path(source).exists():
                gone.append(doc)
        if gone:
            col.delete_documents([d.doc_id for d in gone])
        return [FileResult(path=d.source, status="pruned", doc_id=d.doc_id) for d in gone]


def _put(out: queue.Queue, item, stop: threading.Event) -> bool:
    """Put ``item`` into the bounded queue unless ``stop`` is set first; whether it was put."""
    while not stop.is_set():
        try:
            out.put(item, timeout=0.1)
            return True
        except queue.Full:
            continue
    return False


def embedding_text(parsed: _Parsed, chunk: ChunkRecord) -> str:
    """What the encoder sees for a chunk: the document's title, then the chunk.

    A page of a filing rarely names its company; the title usually does, so questions
    naming the company find the right document. A title that is only the file name
    says nothing and is left out. The stored chunk text stays exact.
    """
    title = parsed.document.title.strip()
    if not title or title == parsed.candidate.path.stem:
        return chunk.text
    return f"{title}\n{chunk.text}"


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _progress_bar(total: int, enabled: bool):
    from tqdm import tqdm

    return tqdm(total=total, unit="file", desc="ingesting", disable=not enabled, file=sys.stderr,
                dynamic_ncols=True, leave=False)
