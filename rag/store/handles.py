"""Open collection handles shared between requests, reference-counted.

A server keeps one read-only :class:`~rag.store.collection.Collection` per name open
between requests. Requests *lease* it: a handle is closed only once no request uses it,
so deleting a collection (or noticing that another process recreated it) never closes
a database under a running search. A handle is keyed by the collection's creation id,
so a collection deleted and created again under the same name is reopened.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable, Iterator

from rag.errors import NotFoundError
from rag.store.collection import Collection


@dataclass
class _Entry:
    col: Collection
    users: int = 0
    retired: bool = False  # no new leases; closed when the last user returns it


class HandleCache:
    """Leases shared read-only handles.

    Args:
        manager: the :class:`rag.store.CollectionManager` that opens collections.
        check: called with each newly opened handle (e.g. to check its encoder); a
            handle it rejects is closed and the error raised.

    Example:
        >>> with cache.lease("docs") as col:  # doctest: +SKIP
        ...     col.documents()
    """

    def __init__(self, manager, check: Callable[[Collection], None] | None = None) -> None:
        self.manager = manager
        self._check = check
        self._open: dict[str, _Entry] = {}
        self._lock = threading.Lock()

    @contextmanager
    def lease(self, name: str) -> Iterator[Collection]:
        """The open handle of ``name`` for the duration of the ``with`` block."""
        entry = self._acquire(name)
        try:
            yield entry.col
        finally:
            self._release(entry)

    def current(self, name: str) -> Collection:
        """The cached handle without a lease: for single-threaded callers (evaluations,
        benchmarks) that own the cache; a server uses :meth:`lease`."""
        entry = self._acquire(name)
        self._release(entry)
        return entry.col

    def forget(self, name: str) -> None:
        """Drop the handle of ``name`` (before deleting it); closed once its users are done."""
        with self._lock:
            entry = self._open.pop(name, None)
            if entry is not None:
                self._retire(entry)

    def close(self) -> None:
        """Retire every handle (closed now, or when their last request ends)."""
        with self._lock:
            for entry in self._open.values():
                self._retire(entry)
            self._open.clear()

    # ------------------------------------------------------------------ internals
    def _acquire(self, name: str) -> _Entry:
        current = self.manager.creation_id(name)  # a small read; no lock needed
        with self._lock:
            entry = self._open.get(name)
            if entry is not None and entry.col.creation_id != current:
                self._open.pop(name)  # deleted, or deleted and created again, since we opened it
                self._retire(entry)
                entry = None
            if entry is None:
                if current is None:
                    raise NotFoundError(f"collection '{name}' does not exist (see `rag collections list`)")
                col = self.manager.open(name)
                try:
                    if self._check is not None:
                        self._check(col)
                except BaseException:
                    col.close()
                    raise
                entry = _Entry(col)
                self._open[name] = entry
            entry.users += 1
            return entry

    def _release(self, entry: _Entry) -> None:
        with self._lock:
            entry.users -= 1
            if entry.retired and entry.users == 0:
                entry.col.close()

    @staticmethod
    def _retire(entry: _Entry) -> None:
        """Called with the lock held."""
        entry.retired = True
        if entry.users == 0:
            entry.col.close()
