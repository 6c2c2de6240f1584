"""Find the files to ingest under the paths a user names."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ingest.loaders import is_supported


@dataclass(frozen=True)
class Candidate:
    """A file to ingest. ``explicit`` files were named by the user, not found in a folder."""

    path: Path
    explicit: bool


def discover(paths: list[str | Path]) -> tuple[list[Candidate], list[Path]]:
    """Expand files and folders (recursively) into candidate files.

    Files found inside folders are kept only if their type is supported, and hidden
    files and folders are skipped; a file named explicitly is always kept, so that an
    unsupported or missing one is reported with its reason. Returns the candidates
    (each once, in a stable order) and the folders that were searched (the scope of
    ``--prune``).
    """
    seen: set[Path] = set()
    out: list[Candidate] = []
    roots: list[Path] = []
    for raw in paths:
        p = Path(raw).expanduser()
        p = p.resolve() if p.exists() else p.absolute()
        if p.is_dir():
            roots.append(p)
            for dirpath, dirnames, filenames in os.walk(p):
                dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
                for name in sorted(filenames):
                    f = Path(dirpath) / name
                    if name.startswith(".") or not is_supported(f) or f in seen:
                        continue
                    seen.add(f)
                    out.append(Candidate(f, explicit=False))
        elif p not in seen:
            seen.add(p)
            out.append(Candidate(p, explicit=True))
    return out, roots
