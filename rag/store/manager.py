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
from rag.store.collection import MANIFEST, Collection, creation_id_of
from rag.store.durable import fsync_dir

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

    def create(self, name: str, *, embedding_model: str, dimension: int, index_type: str | None = None) -> None:
        """Create an empty collection; :class:`ConflictError` if the name is taken.

        Atomic: the collection is built in a temporary folder of its own and renamed into
        place, so it appears complete or not at all, and concurrent creations of one name
        never touch each other's folders (one wins, the others get the conflict).
        """
        folder = self.path(name)
        if self.exists(name):
            raise ConflictError(f"collection '{name}' already exists")
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = self.root / f".{name}.creating-{uuid.uuid4().hex}"
        try:
            Collection.create(tmp, embedding_model=embedding_model, dimension=dimension,
                              index_type=index_type or self.settings.index_type, name=name)
            Collection(tmp, settings=self.settings, writable=True).close()  # make the tables
            fsync_dir(tmp)
            try:
                os.rename(tmp, folder)  # fails if the name exists and is not an empty folder
            except OSError:
                raise ConflictError(f"collection '{name}' already exists") from None
            fsync_dir(self.root)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def open(self, name: str, *, writable: bool = False) -> Collection:
        """Open an existing collection; :class:`NotFoundError` if there is none."""
        if not self.exists(name):
            raise NotFoundError(f"collection '{name}' does not exist (see `rag collections list`)")
        return Collection(self.path(name), settings=self.settings, writable=writable)

    def open_or_create(self, name: str, *, embedding_model: str, dimension: int,
                       recipe: dict | None = None) -> Collection:
        """Open ``name`` for writing, creating it for this encoder if needed; checks the model
        and, when given, the ingestion ``recipe`` (:meth:`Collection.adopt_recipe`)."""
        if not self.exists(name):
            self.create(name, embedding_model=embedding_model, dimension=dimension)
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
        col = Collection(folder, settings=self.settings, writable=True)  # fails if a writer is active
        col._conn.close()
        trash = folder.with_name(f".{name}.deleting-{uuid.uuid4().hex}")
        try:
            folder.rename(trash)  # atomic: the name disappears at once
            fsync_dir(self.root)
        finally:
            col._lock_fh.close()
        shutil.rmtree(trash, ignore_errors=True)
