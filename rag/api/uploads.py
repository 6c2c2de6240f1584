"""Checking and saving uploaded files (staged per job, then kept under ``HOME/uploads/<collection>/``)."""

from __future__ import annotations

import re
import shutil
import unicodedata
from pathlib import Path

from rag.api.errors import LimitExceededError, PayloadTooLargeError, UnsupportedMediaTypeError
from rag.errors import InvalidInputError

_UNSAFE = re.compile(r"[^A-Za-z0-9._ ()+-]+")
_MAX_NAME = 120


def uploads_dir(settings, collection: str) -> Path:
    """Where a collection's uploaded files are kept."""
    return settings.home / "uploads" / collection


def safe_name(filename: str | None) -> str:
    """A file name safe to write: no folders, no leading dot, plain characters, bounded length.

    Example:
        >>> safe_name("../../etc/Q3 report (final)?.pdf")
        'Q3 report (final)_.pdf'
    """
    name = (filename or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    name = _UNSAFE.sub("_", name).strip(" .")
    stem, dot, suffix = name.rpartition(".")
    if not dot:
        stem, suffix = name, ""
    stem = stem[: _MAX_NAME - len(suffix) - 1] or "upload"
    return f"{stem}.{suffix}" if suffix else stem


def check_uploads(files, max_bytes: int, max_files: int | None = None) -> None:
    """Refuse the request (before saving anything) if a file is unsupported or too large,
    or if it holds more than ``max_files`` files."""
    from ingest.loaders import SUPPORTED_SUFFIXES, is_supported

    if not files:
        raise InvalidInputError("no file uploaded: send one or more 'files' parts")
    if max_files is not None and len(files) > max_files:
        raise LimitExceededError(f"files: {len(files)} files in one upload; the limit is {max_files} "
                                "(max_upload_files): send them in several requests")
    bad = [f.filename or "(unnamed)" for f in files if not is_supported(f.filename or "")]
    if bad:
        raise UnsupportedMediaTypeError(
            f"unsupported file type: {', '.join(bad)}; supported: {', '.join(sorted(SUPPORTED_SUFFIXES))}",
            supported=sorted(SUPPORTED_SUFFIXES),
        )
    for f in files:
        if f.size is not None and f.size > max_bytes:
            raise PayloadTooLargeError(
                f"'{f.filename}' is {f.size / 1024 / 1024:.1f} MB, larger than the "
                f"{max_bytes / 1024 / 1024:.1f} MB limit"
            )


def save_uploads(files, folder: Path) -> list[tuple[Path, str]]:
    """Write each upload into ``folder``; returns (saved path, original name) pairs."""
    folder.mkdir(parents=True, exist_ok=True)
    saved: list[tuple[Path, str]] = []
    taken: set[str] = set()
    for f in files:
        name = safe_name(f.filename)
        base, n = name, 1
        while name.lower() in taken:  # two uploads with the same name in one request
            n += 1
            stem, dot, suffix = base.rpartition(".")
            name = f"{stem} ({n}).{suffix}" if dot else f"{base} ({n})"
        taken.add(name.lower())
        path = folder / name
        f.file.seek(0)
        with open(path, "wb") as out:
            shutil.copyfileobj(f.file, out, 1024 * 1024)
        saved.append((path, f.filename or name))
    return saved
