"""Layering and optional dependencies: arrows point down; light parts stay light."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from tests.conftest import ROOT

HEAVY = ("torch", "faiss", "sentence_transformers", "llama_cpp", "transformers", "numpy", "bm25s")


def test_import_contracts_hold():
    exe = shutil.which("lint-imports", path=str(ROOT / ".venv" / "bin")) or shutil.which("lint-imports")
    if exe is None:
        pytest.skip("import-linter is not installed (the 'dev' extra)")
    result = subprocess.run([exe], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-3000:]


@pytest.mark.parametrize("module", ["rag", "rag.config", "rag.schemas", "rag.errors", "rag.client", "rag.cli.main",
                                    "rag.generate", "rag.models", "rag.verify", "ingest.loaders", "rag.store"])
def test_light_imports(module):
    code = (f"import sys, {module}; "
            f"heavy = [m for m in {HEAVY!r} if m in sys.modules]; "
            "assert not heavy, heavy")
    if module == "rag.cli.main":
        code = code.replace(f"import sys, {module};", "import sys; from rag.cli.main import build_parser; build_parser();")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]


def test_missing_optional_dependency_names_the_extra():
    code = """
import sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name == "faiss" or name.startswith("faiss."):
            raise ImportError("blocked for the test")
sys.meta_path.insert(0, Block())
from rag.errors import MissingDependencyError
from rag.store.index import new_index, IndexParams
try:
    new_index("flat", 8, IndexParams())
except MissingDependencyError as exc:
    assert "'cpu' extra" in str(exc) and "pip install" in str(exc), exc
    print("ok")
"""
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert result.stdout.strip() == "ok", result.stderr[-2000:]
