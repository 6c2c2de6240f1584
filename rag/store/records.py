"""SQLite side of a collection: documents, chunks, their vectors and a generation counter.

SQLite is the source of truth. Every write is one transaction that also bumps
``generation``; the FAISS index is a derived file that records the generation it
reflects, so a stale or missing index is rebuilt from these rows (see
:mod:`rag.store.collection`). Chunk ids come from AUTOINCREMENT and are never
reused, so a stale index entry can never point at a different chunk.
"""

from __future__ import annotations

import json
import sqlite3
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterable, Iterator, Sequence

from rag.schemas import ChunkHit, DocumentInfo
from rag.store.base import NewDocument

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS documents (
    doc_id INTEGER PRIMARY KEY AUTOINCREMENT,
    source TEXT NOT NULL UNIQUE,
    title TEXT NOT NULL,
    kind TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    size INTEGER NOT NULL,
    mtime REAL,
    pages INTEGER NOT NULL,
    chunks INTEGER NOT NULL,
    ingested_at TEXT NOT NULL,
    tags TEXT NOT NULL DEFAULT '[]',
    metadata TEXT NOT NULL DEFAULT '{}'
);
CREATE TABLE IF NOT EXISTS chunks (
    chunk_id INTEGER PRIMARY KEY AUTOINCREMENT,
    doc_id INTEGER NOT NULL REFERENCES documents(doc_id) ON DELETE CASCADE,
    ordinal INTEGER NOT NULL,
    page INTEGER,
    start INTEGER NOT NULL,
    "end" INTEGER NOT NULL,
    text TEXT NOT NULL,
    vector BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS chunks_doc ON chunks(doc_id);
INSERT OR IGNORE INTO meta(key, value) VALUES ('generation', '0');
"""


def connect(path: Path, *, create: bool = True) -> sqlite3.Connection:
    """Open the records database in WAL mode with foreign keys on.

    ``create`` makes the tables if missing (writers); readers open without writing.
    """
    if not create and not path.exists():
        from rag.errors import StoreError

        raise StoreError(f"records database {path} is missing")
    # Readers open with mode=rw: never create an empty database in place of a deleted one.
    target, uri = (path, False) if create else (path.resolve().as_uri() + "?mode=rw", True)
    conn = sqlite3.connect(target, timeout=30, check_same_thread=False, isolation_level=None, uri=uri)
    if create:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.executescript(SCHEMA)
    # FULL: a committed transaction survives power loss too, not only a process kill.
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.row_factory = sqlite3.Row
    return conn


@contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """One atomic write that also bumps the generation counter."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
        conn.execute("UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'generation'")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def generation(conn: sqlite3.Connection) -> int:
    """The number of write transactions committed so far."""
    return int(conn.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()[0])


def insert_documents(conn: sqlite3.Connection, docs: Sequence[NewDocument]) -> tuple[list[int], list[int], list[list[int]]]:
    """Insert documents, replacing those with the same source.

    Returns (new doc ids, chunk ids removed by replacement, new chunk ids per document).
    Must run inside :func:`transaction`.
    """
    now = datetime.now(timezone.utc).isoformat()
    doc_ids: list[int] = []
    removed: list[int] = []
    new_chunk_ids: list[list[int]] = []
    for doc in docs:
        old = conn.execute("SELECT doc_id FROM documents WHERE source = ?", (doc.source,)).fetchone()
        if old is not None:
            removed.extend(chunk_ids_of(conn, [old[0]]))
            conn.execute("DELETE FROM documents WHERE doc_id = ?", (old[0],))
        cur = conn.execute(
            "INSERT INTO documents(source, title, kind, content_hash, size, mtime, pages, chunks, ingested_at, tags, metadata)"
            " VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            (doc.source, doc.title, doc.kind, doc.content_hash, doc.size, doc.mtime, doc.pages,
             len(doc.chunks), now, json.dumps(doc.tags), json.dumps(doc.metadata)),
        )
        doc_id = int(cur.lastrowid)
        ids = []
        for chunk, vec in zip(doc.chunks, doc.vectors):
            c = conn.execute(
                'INSERT INTO chunks(doc_id, ordinal, page, start, "end", text, vector) VALUES (?,?,?,?,?,?,?)',
                (doc_id, chunk.ordinal, chunk.page, chunk.start, chunk.end, chunk.text, vec.tobytes()),
            )
            ids.append(int(c.lastrowid))
        doc_ids.append(doc_id)
        new_chunk_ids.append(ids)
    return doc_ids, removed, new_chunk_ids


def chunk_ids_of(conn: sqlite3.Connection, doc_ids: Iterable[int]) -> list[int]:
    """Chunk ids of the given documents."""
    ids = list(doc_ids)
    if not ids:
        return []
    marks = ",".join("?" * len(ids))
    return [r[0] for r in conn.execute(f"SELECT chunk_id FROM chunks WHERE doc_id IN ({marks})", ids)]


def delete_documents(conn: sqlite3.Connection, doc_ids: Sequence[int]) -> tuple[int, list[int]]:
    """Delete documents (chunks cascade). Returns (documents removed, chunk ids removed)."""
    chunk_ids = chunk_ids_of(conn, doc_ids)
    n = 0
    for doc_id in doc_ids:
        n += conn.execute("DELETE FROM documents WHERE doc_id = ?", (doc_id,)).rowcount
    return n, chunk_ids


def _doc_from_row(r: sqlite3.Row) -> DocumentInfo:
    return DocumentInfo(
        doc_id=r["doc_id"], source=r["source"], title=r["title"], content_hash=r["content_hash"],
        mtime=r["mtime"], size=r["size"], pages=r["pages"], chunks=r["chunks"], kind=r["kind"],
        ingested_at=datetime.fromisoformat(r["ingested_at"]), tags=json.loads(r["tags"]),
    )


def list_documents(conn: sqlite3.Connection) -> list[DocumentInfo]:
    """Every document, oldest first."""
    return [_doc_from_row(r) for r in conn.execute("SELECT * FROM documents ORDER BY doc_id")]


def document_by_source(conn: sqlite3.Connection, source: str) -> sqlite3.Row | None:
    """The row of the document ingested from ``source``, if any."""
    return conn.execute("SELECT * FROM documents WHERE source = ?", (source,)).fetchone()


def all_vectors(conn: sqlite3.Connection, dimension: int, batch: int = 20_000):
    """Yield (ids, vectors) batches of every stored chunk, for rebuilding the index."""
    import numpy as np

    cur = conn.execute("SELECT chunk_id, vector FROM chunks ORDER BY chunk_id")
    while True:
        rows = cur.fetchmany(batch)
        if not rows:
            return
        ids = np.fromiter((r[0] for r in rows), dtype="int64", count=len(rows))
        vecs = np.frombuffer(b"".join(r[1] for r in rows), dtype="float32").reshape(len(rows), dimension)
        yield ids, vecs


def vectors_for(conn: sqlite3.Connection, chunk_ids: Sequence[int], dimension: int):
    """(ids, vectors) of the given chunks that still exist."""
    import numpy as np

    ids: list[int] = []
    blobs: list[bytes] = []
    for start in range(0, len(chunk_ids), 900):
        part = list(chunk_ids[start:start + 900])
        marks = ",".join("?" * len(part))
        for r in conn.execute(f"SELECT chunk_id, vector FROM chunks WHERE chunk_id IN ({marks})", part):
            ids.append(r[0])
            blobs.append(r[1])
    vecs = np.frombuffer(b"".join(blobs), dtype="float32").reshape(len(ids), dimension)
    return np.asarray(ids, dtype="int64"), vecs


def filtered_chunk_ids(conn: sqlite3.Connection, doc_ids, source: str | None, tags) -> set[int]:
    """Chunk ids of documents matching every given condition (source is a GLOB pattern)."""
    where, args = [], []
    if doc_ids is not None:
        where.append(f"d.doc_id IN ({','.join('?' * len(doc_ids))})" if doc_ids else "0")
        args.extend(doc_ids)
    if source:
        where.append("d.source GLOB ?")
        args.append(source)
    if tags:
        where.append(f"EXISTS (SELECT 1 FROM json_each(d.tags) t WHERE t.value IN ({','.join('?' * len(tags))}))")
        args.extend(tags)
    sql = "SELECT c.chunk_id FROM chunks c JOIN documents d USING(doc_id)"
    if where:
        sql += " WHERE " + " AND ".join(where)
    return {r[0] for r in conn.execute(sql, args)}


def all_chunk_ids(conn: sqlite3.Connection) -> set[int]:
    """Ids of every stored chunk."""
    return {r[0] for r in conn.execute("SELECT chunk_id FROM chunks")}


def hits_for(conn: sqlite3.Connection, scored: Sequence[tuple[int, float]]) -> list[ChunkHit]:
    """Join (chunk id, score) pairs with their rows, keeping the order; unknown ids are dropped."""
    if not scored:
        return []
    ids = [i for i, _ in scored]
    marks = ",".join("?" * len(ids))
    rows = {
        r["chunk_id"]: r
        for r in conn.execute(
            f'SELECT c.chunk_id, c.doc_id, c.page, c.start, c."end", c.text, d.source, d.title '
            f"FROM chunks c JOIN documents d USING(doc_id) WHERE c.chunk_id IN ({marks})",
            ids,
        )
    }
    hits = []
    for chunk_id, score in scored:
        r = rows.get(chunk_id)
        if r is None:
            continue  # deleted since the index was written
        hits.append(ChunkHit(chunk_id=chunk_id, doc_id=r["doc_id"], source=r["source"], title=r["title"],
                             page=r["page"], start=r["start"], end=r["end"], text=r["text"], score=float(score)))
    return hits


def counts(conn: sqlite3.Connection) -> tuple[int, int]:
    """(documents, chunks) stored."""
    d = conn.execute("SELECT COUNT(*) FROM documents").fetchone()[0]
    c = conn.execute("SELECT COUNT(*) FROM chunks").fetchone()[0]
    return int(d), int(c)

