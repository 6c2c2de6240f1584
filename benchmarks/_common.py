"""Helpers shared by the benchmark programs: paths, settings, the encoder, machine facts."""

from __future__ import annotations

import os
import platform
import statistics
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEFAULT_DATA = REPO.parent / "shared" / "datasets"


def default_models_home() -> Path:
    """Provisioned models: $RAG_MODELS_HOME, else $RAG_HOME/models, else <repo>/.rag-home/models."""
    if os.environ.get("RAG_MODELS_HOME"):
        return Path(os.environ["RAG_MODELS_HOME"]).expanduser()
    if os.environ.get("RAG_HOME"):
        return Path(os.environ["RAG_HOME"]).expanduser() / "models"
    return REPO / ".rag-home" / "models"


def make_settings(home: Path, models_home: Path, **overrides):
    """Settings for a throw-away home that reads models from ``models_home`` (nothing downloads)."""
    from rag.config import get_settings

    return get_settings(home=home, models_home=models_home, **overrides)


def load_embedder(settings):
    """The configured encoder, loaded now and warmed with one small batch (first calls are slow)."""
    from rag.embed import make_embedder

    embedder = make_embedder(settings)
    embedder.warm_up()
    embedder.embed_batch(["warm-up sentence number %d for the encoder" % i for i in range(32)])
    return embedder


#: Questions about this project's own docs, for the benchmarks that time whole answers.
DOCS_QUESTIONS = [
    "What file types can I ingest?",
    "What happens to a collection if ingestion is killed halfway?",
    "How do I create an API key?",
    "Which setting chooses the encoder backend?",
    "What does the answerable score mean?",
]


def answer_args(doc: str, argv: list[str] | None):
    """The options of the benchmarks that time whole answers: --rounds, --max-tokens, --json."""
    import argparse

    parser = argparse.ArgumentParser(description=doc.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--max-tokens", type=int, default=96)
    parser.add_argument("--json", action="store_true")
    return parser.parse_args(argv)


def docs_service(home: Path, collection: str = "bench"):
    """A warmed-up ``RAGService`` on the default models, with README.md and docs/ ingested
    into ``collection`` under the throw-away ``home``; returns (service, settings)."""
    from ingest.pipeline import Ingestor
    from rag.pipeline import RAGService

    settings = make_settings(home, default_models_home())
    service = RAGService(settings)
    service.warm_up()
    Ingestor(settings, embedder=service.embedder).ingest([REPO / "README.md", REPO / "docs"], collection)
    return service, settings


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def machine() -> dict:
    """Cores, CPU model, load average and library versions, to print next to the figures."""
    info = {
        "cores": os.cpu_count(),
        "cpu": _cpu_model(),
        "python": platform.python_version(),
        "platform": platform.platform(terse=True),
        "loadavg": [round(x, 2) for x in os.getloadavg()],
    }
    try:
        import torch

        info["torch"] = torch.__version__
        info["torch_threads"] = torch.get_num_threads()
        info["cuda"] = torch.cuda.is_available()
    except ImportError:  # pragma: no cover
        pass
    return info


def machine_line(info: dict) -> str:
    load = " ".join(f"{x:.2f}" for x in info["loadavg"])
    return (f"machine: {info['cores']} cores ({info['cpu']}), torch {info.get('torch')} "
            f"({info.get('torch_threads')} threads{', CUDA' if info.get('cuda') else ', CPU only'}), "
            f"Python {info['python']}; load average (1/5/15 min) {load}")


def loadavg_1m() -> float:
    return round(os.getloadavg()[0], 2)


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def note(msg: str) -> None:
    """Progress for a person, on stderr so ``--json`` output stays clean."""
    print(msg, file=sys.stderr, flush=True)
