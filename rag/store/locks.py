"""The exclusive write lock of a collection folder (one writer at a time)."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from rag.errors import ConflictError, NotFoundError


def take_write_lock(folder: Path, name: str):
    """Hold the collection folder's exclusive write lock (the open file); :class:`ConflictError`
    when another writer holds it, :class:`NotFoundError` when the folder is gone."""
    try:
        fh = open(folder / "write.lock", "a+")
    except FileNotFoundError:  # the folder was deleted
        raise NotFoundError(f"collection '{name}' does not exist") from None
    try:
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        fh.close()
        raise ConflictError(
            f"collection '{name}' is being written by another process; try again when it has finished"
        ) from None
    try:
        # A deletion renames the folder away while holding this lock: once we hold it,
        # the lock file must still be the one under our folder's name.
        if os.stat(folder / "write.lock").st_ino != os.fstat(fh.fileno()).st_ino:
            raise FileNotFoundError
    except FileNotFoundError:
        fh.close()
        raise NotFoundError(f"collection '{name}' does not exist") from None
    return fh
