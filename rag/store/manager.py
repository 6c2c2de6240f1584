"""Create, open, list and delete collections under ``RAG_HOME/collections``."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from rag.errors import ConflictError, InvalidInputError, NotFoundError
from rag.schemas import CollectionInfo
from rag.store.collection import MANIFEST, Collection

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

    def create(self, name: str, *, embedding_model: str, dimension: int, index_type: str | None = None) -> None:
        """Create an empty collection; :class:`ConflictError` if the name is taken."""
        folder = self.path(name)
        if self.exists(name):
            raise ConflictError(f"collection '{name}' already exists")
        if folder.exists():  # a creation interrupted before its manifest was written
            shutil.rmtree(folder)
        self.root.mkdir(parents=True, exist_ok=True)
        Collection.create(folder, embedding_model=embedding_model, dimension=dimension,
                          index_type=index_type or self.settings.index_type)
        Collection(folder, settings=self.settings, writable=True).close()  # make the tables

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
        return sorted(p.name for p in self.root.iterdir() if (p / MANIFEST).exists())

    def list(self) -> list[CollectionInfo]:
        """Every collection with its size."""
        out = []
        for name in self.names():
            with self.open(name) as col:
                out.append(col.info())
        return out

    def delete(self, name: str) -> None:
        """Delete a collection and all its files (refused while a writer holds it)."""
        folder = self.path(name)
        if not self.exists(name):
            raise NotFoundError(f"collection '{name}' does not exist")
        col = Collection(folder, settings=self.settings, writable=True)  # fails if a writer is active
        col._conn.close()
        trash = folder.with_name(f".{name}.deleting")
        shutil.rmtree(trash, ignore_errors=True)
        folder.rename(trash)  # atomic: the name disappears at once
        col._lock_fh.close()
        shutil.rmtree(trash, ignore_errors=True)
