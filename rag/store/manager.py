"""Create, open, list and delete collections under ``RAG_HOME/collections``."""

from __future__ import annotations

import json
import os
import re
import shutil
import uuid
from pathlib import Path

from rag.errors import ConflictError, InvalidInputError, NotFoundError
from rag.schemas import CollectionInfo
from rag.store import sharded
from rag.store.collection import MANIFEST, Collection, creation_id_of
from rag.store.durable import fsync_dir
from rag.store.locks import take_write_lock

#: Most shards one collection may have.
MAX_SHARDS = 64

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


def validate_name(name: str) -> str:
    """A collection name: letters, digits, '_', '-', '.', at most 64 characters."""
    if not _NAME.match(name or ""):
        raise InvalidInputError(
            f"invalid collection name {name!r}: use 1-64 letters, digits, '_', '-' or '.', starting with a letter or digit"
        )
    return name


class CollectionManager:
    """Finds collections by name.

    Example:
        >>> mgr = CollectionManager(settings)  # doctest: +SKIP
        >>> with mgr.open("docs", writable=True) as col: ...  # doctest: +SKIP
    """

    def __init__(self, settings) -> None:
        self.settings = settings
        self.root: Path = settings.collections_dir

    def path(self, name: str) -> Path:
        return self.root / validate_name(name)

    def exists(self, name: str) -> bool:
        return (self.path(name) / MANIFEST).exists()

    def creation_id(self, name: str) -> str | None:
        """The creation id of the collection now named ``name``, or None if there is none."""
        try:
            return creation_id_of(json.loads((self.path(name) / MANIFEST).read_text()))
        except (FileNotFoundError, ValueError):
            return None

    def create(self, name: str, *, embedding_model: str, dimension: int, index_type: str | None = None,
               shards: int | None = None) -> None:
        """Create an empty collection; :class:`ConflictError` if the name is taken.

        With ``shards``, a sharded collection of that many ordinary collections
        (:mod:`rag.store.sharded`), searched as one.

        Atomic: the collection is built in a temporary folder of its own and renamed into
        place, so it appears complete or not at all, and concurrent creations of one name
        never touch each other's folders (one wins, the others get the conflict).
        """
        folder = self.path(name)
        if shards is not None and not 1 <= shards <= MAX_SHARDS:
            raise InvalidInputError(f"a collection has 1 to {MAX_SHARDS} shards, not {shards}")
        if self.exists(name):
            raise ConflictError(f"collection '{name}' already exists")
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = self.root / f".{name}.creating-{uuid.uuid4().hex}"
        try:
            spec = {"embedding_model": embedding_model, "dimension": dimension,
                    "index_type": index_type or self.settings.index_type, "name": name}
            if shards is None:
                Collection.create(tmp, **spec)
                Collection(tmp, settings=self.settings, writable=True).close()  # make the tables
            else:
                sharded.create_shards(tmp, count=shards, settings=self.settings, **spec)
            fsync_dir(tmp)
            try:
                os.rename(tmp, folder)  # fails if the name exists and is not an empty folder
            except OSError:
                raise ConflictError(f"collection '{name}' already exists") from None
            fsync_dir(self.root)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def open(self, name: str, *, writable: bool = False):
        """Open an existing collection (a :class:`Collection`, or a
        :class:`rag.store.sharded.ShardedCollection`); :class:`NotFoundError` if there is none."""
        if not self.exists(name):
            raise NotFoundError(f"collection '{name}' does not exist (see `rag collections list`)")
        if self.shard_count(name) is not None:
            return sharded.ShardedCollection(self.path(name), settings=self.settings, writable=writable)
        return Collection(self.path(name), settings=self.settings, writable=writable)

    def shard_count(self, name: str) -> int | None:
        """How many shards collection ``name`` has; None for an ordinary (or missing) collection."""
        try:
            manifest = json.loads((self.path(name) / MANIFEST).read_text())
        except (FileNotFoundError, ValueError):
            return None
        return int(manifest["shards"]) if sharded.is_sharded(manifest) else None

    def open_or_create(self, name: str, *, embedding_model: str, dimension: int,
                       recipe: dict | None = None, shards: int | None = None):
        """Open ``name`` for writing, creating it for this encoder if needed (with ``shards``:
        sharded); checks the model and, when given, the ingestion ``recipe``
        (:meth:`Collection.adopt_recipe`)."""
        if not self.exists(name):
            self.create(name, embedding_model=embedding_model, dimension=dimension, shards=shards)
        if shards is not None and self.shard_count(name) != shards:
            have = self.shard_count(name)
            raise ConflictError(f"collection '{name}' exists with {have or 'no'} shards, not {shards}; "
                                "leave out the shard count or ingest into a new collection")
        col = self.open(name, writable=True)
        try:
            col.check_model(embedding_model, dimension)
            if recipe is not None:
                col.adopt_recipe(recipe)
        except Exception:
            col.close()
            raise
        return col

    def names(self) -> list[str]:
        """Names of every collection, sorted."""
        if not self.root.exists():
            return []
        return sorted(p.name for p in self.root.iterdir() if _NAME.match(p.name) and (p / MANIFEST).exists())

    def list(self) -> list[CollectionInfo]:
        """Every collection with its size."""
        out = []
        for name in self.names():
            try:
                with self.open(name) as col:
                    out.append(col.info())
            except NotFoundError:
                continue  # deleted since it was listed
        return out

    def delete(self, name: str) -> None:
        """Delete a collection and all its files (refused while a writer holds it)."""
        folder = self.path(name)
        if not self.exists(name):
            raise NotFoundError(f"collection '{name}' does not exist")
        # Fails if a writer is active (a sharded collection's writers hold its top lock too).
        lock = take_write_lock(folder, name)
        try:
            trash = folder.with_name(f".{name}.deleting-{uuid.uuid4().hex}")
            folder.rename(trash)  # atomic: the name disappears at once
            fsync_dir(self.root)
        finally:
            lock.close()
        shutil.rmtree(trash, ignore_errors=True)
