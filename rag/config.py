"""The one Settings object.

Every tunable lives here, read from ``RAG_*`` environment variables (or a ``.env``
file). Build it with :func:`get_settings` at the edge (CLI, server) and pass it
down; nothing creates settings at import time.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


def _default_home() -> Path:
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("groundrag", appauthor=False))


class Settings(BaseSettings):
    """Product settings. Environment variables use the ``RAG_`` prefix, e.g. ``RAG_HOME``."""

    model_config = SettingsConfigDict(env_prefix="RAG_", env_file=".env", extra="ignore")

    home: Path = Field(default_factory=_default_home, description="Models and collections live here.")
    models_home: Path | None = Field(
        None, description="Where provisioned models are cached (default: HOME/models); shareable between homes."
    )

    # Models
    embedding_model: str = Field(
        "all-MiniLM-L6-v2",
        description="Registry name, Hugging Face id or local folder of a sentence-transformers encoder.",
    )
    device: Literal["auto", "cpu", "cuda"] = Field("auto", description="Where the encoder runs.")
    embed_batch_size: int = Field(
        0, ge=0, le=4096,
        description="Texts per encoder call; 0 picks for the device and backend: 8 with onnx-int8 (the CPU "
        "default), 16 with torch or onnx on CPU (on 13 FinanceBench filings both faster and 15-50% less peak "
        "memory than 64), 64 on a GPU.",
    )
    query_threads: int = Field(
        1, ge=1, description="CPU threads for one query's embedding and vector search (1 avoids thread contention)."
    )
    encoder_backend: Literal["torch", "onnx", "onnx-int8"] = Field(
        "onnx-int8",
        description="What runs the encoder on CPU: onnx-int8 (the default: weights quantized per channel, "
        "cosine >= 0.98 to torch, ingests about 2x faster and embeds a query in ~3 ms instead of ~20; an int8 "
        "export whose vectors stray further from fp32 is refused and fp32 ONNX runs instead), "
        "onnx (ONNX Runtime, fp32) or torch (fp32, the reference); an encoder with layers after its pooling "
        "(Dense projections) runs in torch. ONNX files are exported once from the "
        "model folder and cached beside it. A GPU always runs torch. Recorded in each collection's recipe.",
    )

    # Generation
    generator_backend: Literal["llamacpp", "openai"] = Field(
        "llamacpp", description="llamacpp: in-process GGUF (default); openai: an OpenAI-compatible server such as vLLM."
    )
    generator_model: str = Field(
        "",
        description="llamacpp: registry name or GGUF path (empty = the packaged Qwen2.5 1.5B); "
        "openai: the served model id (empty = the server's first model).",
    )
    generator_context_window: int = Field(4096, ge=256)
    generator_threads: int = Field(0, ge=0, description="llama.cpp threads; 0 = all cores.")
    # :8001, next to `rag serve` on :8000 (the `llm` service of docker-compose.yml listens there).
    generator_base_url: str = Field(
        "http://127.0.0.1:8001/v1",
        description="openai: the server's URL, or several replicas serving the same model separated by commas "
        "(each request goes to the least busy replica that is up; see docs/scale.md).",
    )
    generator_recheck_seconds: float = Field(
        5.0, gt=0, description="openai: seconds before a replica taken out of the rotation is probed again.")
    generator_api_key: SecretStr | None = None
    generator_timeout: float = Field(120.0, gt=0)
    generator_retries: int = Field(3, ge=0, le=10)
    generator_tokenizer: str = Field(
        "", description="openai: tokenizer that counts prompt tokens locally (Hugging Face id or folder; empty = the "
        "served model's, as the server reports it); loaded offline only, else the server's /tokenize counts.",
    )
    ask_workers: int = Field(
        0, ge=0, description="Answers `rag serve` generates at once; 0 = per backend: 64 against an OpenAI-compatible "
        "server (which batches them), 4 with the in-process llama.cpp (which generates one at a time).",
    )

    # Retrieval and answering
    default_k: int = Field(5, ge=1, le=100, description="Passages retrieved for an answer.")
    rerank_model: str | None = Field(None, description="A sentence-transformers CrossEncoder; none ships offline.")
    fusion: Literal["weighted", "rrf"] = Field(
        "weighted", description="How hybrid search joins its dense and BM25 candidates: `weighted` sums each side's "
        "scores divided by its best (dense weighted by `fusion_dense_weight`), `rrf` adds reciprocal ranks (k = 60).",
    )
    fusion_dense_weight: float = Field(
        0.6, ge=0, le=1, description="The dense side's share of a weighted fusion; BM25 has the rest.",
    )
    min_relevance: float = Field(
        0.2, description="Abstain without asking the model when the best passage's cosine is below this."
    )

    passage_cutoff: float = Field(
        0.0, ge=0, le=1,
        description="Answers read the first `min_passages` hits, then only those whose hybrid score is at least "
        "this share of the best one's, up to k; 0 (default) reads all k. 0.8 with k = 8 suits long documents "
        "(docs/answerability.md).",
    )
    min_passages: int = Field(3, ge=1, le=100, description="Hits an answer always reads, whatever `passage_cutoff`.")

    join_passages: bool = Field(
        True, description="Join retrieved chunks that are neighbours in one page into one passage, and drop "
        "near-duplicate passages, before the model reads them (docs/answerability.md).",
    )

    answerable_threshold: float = Field(
        0.55, ge=0, le=1,
        description="Abstain when the model's answerable_score is at or below this, before it writes anything; "
        "above it the reply may not start with NOT FOUND. Calibrated on dev data (docs/answerability.md): "
        "0.5 reproduces the model's own greedy choice, 0.55 abstains a little more often, 0 leaves the "
        "decision to its reply.",
    )

    # Answer-time verification
    verifier: Literal["lexical", "judge", "nli", "combined", "none"] = Field(
        "combined", description="How answer sentences are checked against their passages (see docs/verification.md)."
    )
    verifier_model: str | None = Field(None, description="nli: a cross-encoder (HHEM, MiniCheck...) by name or path.")
    verifier_judge: bool = Field(False, description="combined: add the answer model's yes/no judgement as a feature.")
    support_threshold: float | None = Field(None, ge=0, le=1, description="Support below this is 'unsupported' (default: calibrated).")
    unsupported_policy: Literal["flag", "remove"] = "flag"
    repoint_citations: bool = Field(
        True, description="Move a sentence's [n] to the passage that holds its numbers and words when the cited "
        "passage does not (small models often number the wrong passage); see docs/verification.md.")

    # HTTP server
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    api_key: SecretStr | None = Field(
        None, description="A single admin key ('Authorization: Bearer <key>'), besides the keys of `rag keys`; "
        "empty = none.")
    max_upload_mb: float = Field(100.0, gt=0)
    request_timeout: float = Field(300.0, gt=0, description="Seconds before an ask request is abandoned.")

    # Access control (see docs/security.md)
    auth: Literal["auto", "on", "off"] = Field(
        "auto", description="auto: a key is required unless the server binds to loopback and no key exists; "
        "on: always; off: never (logged as a warning).")
    allowed_hosts: str = Field(
        "", description="Comma-separated Host header values accepted (DNS-rebinding guard); empty = loopback names "
        "plus the bound host; '*' = any.")
    cors_origins: str = Field(
        "", description="Comma-separated browser origins allowed to call the API (e.g. https://app.example.com); "
        "empty = same origin only.")

    # Request limits
    max_json_kb: float = Field(1024.0, gt=0, description="Largest JSON request body, in KiB (uploads: max_upload_mb).")
    max_upload_files: int = Field(100, ge=1, description="Most files in one upload request.")
    max_filter_items: int = Field(256, ge=1, description="Most items in a filter list (doc_ids, tags).")
    max_question_chars: int = Field(4000, ge=1, le=4000, description="Longest question, in characters.")
    rate_limit_per_minute: float = Field(
        600.0, ge=0, description="Requests per minute per API key (per client address without keys); 0 = no limit.")
    rate_limit_burst: int = Field(100, ge=1, description="Requests a key may send at once before the rate applies.")

    # Chunking (sizes are in the encoder's own tokens)
    chunk_tokens: int = Field(200, ge=16, le=8192)
    chunk_overlap_tokens: int = Field(32, ge=0, le=4096)

    # Store
    index_type: Literal["auto", "flat", "hnsw", "ivf"] = "auto"
    ann_threshold: int = Field(
        20_000, ge=1, description="With index_type=auto, collections with at least this many chunks use HNSW.")
    ivf_threshold: int = Field(
        2_000_000, ge=1, description="With index_type=auto, collections with at least this many chunks use IVF.")
    hnsw_m: int = Field(32, ge=4, le=256)
    hnsw_ef_search: int = Field(128, ge=8)
    ivf_nprobe: int = Field(16, ge=1)
    shard_timeout: float = Field(
        10.0, gt=0, description="Seconds each shard of a sharded collection may take per search step; a shard that "
        "takes longer (or fails) is left out and the response says the results are partial.")
    shard_urls: str = Field(
        "", description="Shards another `rag serve` answers, as NAME#INDEX=URL, comma-separated "
        "(e.g. docs#1=http://10.0.0.2:8000); the other shards are searched in this process.")
    shard_api_key: SecretStr | None = Field(None, description="The key sent to the servers of RAG_SHARD_URLS.")
    index_device: Literal["auto", "cpu", "cuda"] = Field(
        "auto", description="Where FAISS searches: auto = the GPU when a GPU build of faiss sees one, else CPU."
    )

    # Distributed ingestion (the 'scale' extra; see docs/sharding.md)
    ray_address: str = Field(
        "", description="Ray cluster `rag ingest` runs on when set (like --ray): local, auto, HOST:PORT or "
        "ray://HOST:PORT; empty = ingest in this process.")
    ray_workers: int = Field(0, ge=0, description="Ray actors per ingestion stage; 0 = half the cluster's CPUs.")

    # Ingestion limits
    max_file_mb: float = Field(512.0, gt=0, description="Files larger than this are refused.")
    parse_timeout: float = Field(
        120.0, gt=0, description="Seconds one uploaded file may take to parse (in a child process) before it fails.")
    parse_memory_mb: int = Field(
        4096, ge=0, description="Address-space limit of the parsing child process, in MiB; 0 = no limit.")

    @field_validator("home", "models_home", mode="before")
    @classmethod
    def _expand(cls, v: object) -> object:
        if isinstance(v, str):
            return Path(v).expanduser()
        return v

    @field_validator("api_key", mode="before")
    @classmethod
    def _empty_key_is_none(cls, v: object) -> object:
        # RAG_API_KEY="" must not read as "a key is set" anywhere (it once printed
        # "API key required" while installing no check).
        if isinstance(v, str) and not v.strip():
            return None
        if isinstance(v, SecretStr) and not v.get_secret_value().strip():
            return None
        return v

    @staticmethod
    def split_list(value: str) -> list[str]:
        """``"a, b,,c"`` -> ``["a", "b", "c"]`` (for the comma-separated settings)."""
        return [part.strip() for part in value.split(",") if part.strip()]

    @property
    def models_dir(self) -> Path:
        """Where provisioned model files are cached."""
        return self.models_home or self.home / "models"

    @property
    def ask_concurrency(self) -> int:
        """Answers generated at once: ``ask_workers``, or the backend's default when it is 0."""
        return self.ask_workers or (64 if self.generator_backend == "openai" else 4)

    @property
    def collections_dir(self) -> Path:
        """Where collections are stored, one folder each."""
        return self.home / "collections"


def get_settings(**overrides: object) -> Settings:
    """Build the settings from the environment, with explicit overrides on top."""
    return Settings(**overrides)
