"""This project against LangChain and LlamaIndex, side by side in one run.

Each stack ingests the same files (load → split → embed → index) with the same
MiniLM encoder (loaded from the provisioned folder: no hub) and the same chunk size in
encoder tokens (200, overlap 32: this project's defaults), each in its own process, one
after the other, for several rounds. Each stack embeds with its own default batch size,
what a user gets: ours ``RAG_EMBED_BATCH_SIZE`` (auto: 16 on CPU), LangChain's
HuggingFaceEmbeddings 32 (sentence-transformers' ``encode`` default), LlamaIndex 10
(``DEFAULT_EMBED_BATCH_SIZE``); ``--batch N`` gives every stack the same one. It prints
wall time, pages/s, chunks/s and peak RSS (median and range) and the ratio of ours
to each peer; with ``--quality``, nDCG@10 on SciFact dev for each stack (ours:
hybrid retrieval; the peers: their default dense retriever), so speed is never
bought with quality.

Stacks:
  ours        ``Ingestor.ingest`` with the default encoder backend on CPU (onnx-int8; the ONNX
              file is exported before the timed part)
  ours-torch  the same with ``RAG_ENCODER_BACKEND=torch`` (fp32, the reference; the peers'
              encoder arithmetic)
  langchain   PyPDFLoader / TextLoader, RecursiveCharacterTextSplitter (token-sized with the
              encoder's tokenizer), FAISS from langchain-community
  llamaindex  pypdf page by page (what llama-index-readers-file's PDFReader does) / plain
              text, SentenceSplitter (encoder tokens), VectorStoreIndex (in memory)
The peers' encoder is the same SentenceTransformer behind each framework's own
embeddings interface (what HuggingFaceEmbeddings does), so only the frameworks differ.

Corpora: the FinanceBench dev PDFs; 2,000 SciFact abstracts written as .txt files
first (outside the timed part).

Run (quiet machine):
    RAG_HOME=.rag-home python benchmarks/peers.py --rounds 3 --quality
    python benchmarks/peers.py --corpus financebench --rounds 1 --limit 2   # a quick check
Needs the ``bench`` extra beside ``cpu`` (pip install 'groundrag[engine,cpu,bench]'). It never fails on a time.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]  # see benchmarks/ingest.py
sys.path.insert(0, str(_HERE.parent))
from benchmarks._common import DEFAULT_DATA, default_models_home, machine, machine_line  # noqa: E402

STACKS = ("ours", "ours-torch", "langchain", "llamaindex")
OURS = ("ours", "ours-torch")
CHUNK_TOKENS, OVERLAP_TOKENS = 200, 32
#: The peers' own default encoder batch sizes (ours comes from its settings); --batch overrides.
DEFAULT_BATCH = {"langchain": 32, "llamaindex": 10}
SCIFACT_DOCS = 2000
ENCODER = "all-MiniLM-L6-v2"


# ----------------------------------------------------------------------------- workers
def _encoder(models_home: Path):
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(models_home / ENCODER), device="cpu")


def _use_encoder(name: str) -> None:
    """Every stack of this process uses encoder ``name`` (a folder under the models home)."""
    global ENCODER
    ENCODER = name


def _token_length(model):
    tokenizer = model.tokenizer
    return lambda text: len(tokenizer.encode(text, add_special_tokens=False))


def _embed(model, texts, batch: int):
    return model.encode(list(texts), batch_size=batch, normalize_embeddings=True, convert_to_numpy=True).tolist()


def _run_ours(files: list[Path], models_home: Path, home: Path, batch: int, backend: str = "onnx-int8"):
    from ingest.pipeline import Ingestor
    from rag.config import get_settings

    settings = get_settings(home=home, models_home=models_home, embedding_model=ENCODER, device="cpu",
                            chunk_tokens=CHUNK_TOKENS, chunk_overlap_tokens=OVERLAP_TOKENS,
                            encoder_backend=backend, **({"embed_batch_size": batch} if batch else {}))
    ingestor = Ingestor(settings)
    ingestor.embedder.warm_up()
    t = time.perf_counter()
    summary = ingestor.ingest(files, "peers")
    wall = time.perf_counter() - t
    pages = sum(r.pages or 0 for r in summary.files)
    from rag.pipeline import RAGService
    from rag.schemas import RetrieveRequest

    service = RAGService(settings, embedder=ingestor.embedder)

    def search(query: str, k: int) -> list[str]:
        hits = service.retrieve("peers", RetrieveRequest(query=query, k=3 * k, mode="hybrid")).hits
        return [Path(h.source).stem for h in hits]

    return wall, pages, summary.chunks, search


def _run_langchain(files: list[Path], models_home: Path, home: Path, batch: int):
    from langchain_community.document_loaders import PyPDFLoader, TextLoader
    from langchain_community.vectorstores import FAISS
    from langchain_core.embeddings import Embeddings
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    model = _encoder(models_home)
    batch = batch or DEFAULT_BATCH["langchain"]

    class MiniLM(Embeddings):
        def embed_documents(self, texts):
            return _embed(model, texts, batch)

        def embed_query(self, text):
            return _embed(model, [text], batch)[0]

    splitter = RecursiveCharacterTextSplitter(chunk_size=CHUNK_TOKENS, chunk_overlap=OVERLAP_TOKENS,
                                              length_function=_token_length(model))
    t = time.perf_counter()
    docs = []
    for f in files:
        loader = PyPDFLoader(str(f)) if f.suffix.lower() == ".pdf" else TextLoader(str(f), encoding="utf-8")
        docs.extend(loader.load())
    chunks = splitter.split_documents(docs)
    store = FAISS.from_documents(chunks, MiniLM())
    wall = time.perf_counter() - t

    def search(query: str, k: int) -> list[str]:
        return [Path(d.metadata["source"]).stem for d in store.similarity_search(query, k=3 * k)]

    return wall, len(docs), len(chunks), search


def _run_llamaindex(files: list[Path], models_home: Path, home: Path, batch: int):
    from llama_index.core import Document, Settings, VectorStoreIndex
    from llama_index.core.embeddings import BaseEmbedding
    from llama_index.core.node_parser import SentenceSplitter

    model = _encoder(models_home)

    batch = batch or DEFAULT_BATCH["llamaindex"]

    class MiniLM(BaseEmbedding):  # LlamaIndex hands it embed_batch_size texts at a time
        def _get_query_embedding(self, query):
            return _embed(model, [query], batch)[0]

        async def _aget_query_embedding(self, query):
            return self._get_query_embedding(query)

        def _get_text_embedding(self, text):
            return _embed(model, [text], batch)[0]

        def _get_text_embeddings(self, texts):
            return _embed(model, texts, batch)

    Settings.embed_model = MiniLM(embed_batch_size=batch)
    Settings.llm = None
    tokenizer = model.tokenizer
    splitter = SentenceSplitter(chunk_size=CHUNK_TOKENS, chunk_overlap=OVERLAP_TOKENS,
                                tokenizer=lambda text: tokenizer.encode(text, add_special_tokens=False))
    t = time.perf_counter()
    docs = []
    for f in files:
        if f.suffix.lower() == ".pdf":
            from pypdf import PdfReader

            for number, page in enumerate(PdfReader(str(f)).pages, start=1):
                docs.append(Document(text=page.extract_text() or "", metadata={"source": str(f), "page": number}))
        else:
            docs.append(Document(text=f.read_text(encoding="utf-8"), metadata={"source": str(f)}))
    nodes = splitter.get_nodes_from_documents(docs)
    index = VectorStoreIndex(nodes)
    wall = time.perf_counter() - t
    retriever = index.as_retriever(similarity_top_k=30)

    def search(query: str, k: int) -> list[str]:
        return [Path(n.node.metadata["source"]).stem for n in retriever.retrieve(query)][: 3 * k]

    return wall, len(docs), len(nodes), search


def worker(stack: str, files: list[Path], models_home: Path, quality: Path | None, batch: int = 0) -> dict:
    """One stack, one round, in this process; the figures as a dict (``batch`` 0: the stack's default)."""
    run = {"ours": _run_ours, "ours-torch": lambda *a: _run_ours(*a, backend="torch"),
           "langchain": _run_langchain, "llamaindex": _run_llamaindex}[stack]
    with tempfile.TemporaryDirectory() as home:
        wall, pages, chunks, search = run(files, models_home, Path(home), batch)
        out = {"stack": stack, "wall_s": wall, "pages": pages, "chunks": chunks,
               "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
        if quality is not None:
            from eval.datasets.scifact import load_scifact
            from eval.metrics.retrieval import dedupe, ndcg_at_k

            data = load_scifact(quality)
            present = {f.stem for f in files}  # --limit: only claims whose evidence was ingested
            scores = [ndcg_at_k(dedupe(search(text, 10))[:10], data.qrels[qid], 10)
                      for qid, text in data.queries.items() if set(data.qrels[qid]) <= present]
            out["ndcg@10"] = statistics.fmean(scores) if scores else float("nan")
            out["queries"] = len(scores)
    return out


# ----------------------------------------------------------------------------- driver
def _corpora(args, tmp: Path) -> dict[str, list[Path]]:
    out = {}
    if args.corpus in ("all", "financebench"):
        out["financebench"] = sorted((args.data / "financebench" / "pdfs").glob("*.pdf"))[: args.limit]
    if args.corpus in ("all", "scifact"):
        from eval.datasets.scifact import load_scifact, write_corpus

        data = load_scifact(args.data / "scifact")
        _keep_first(data, args.limit or SCIFACT_DOCS)
        write_corpus(data, tmp / "scifact")
        out["scifact"] = sorted((tmp / "scifact").glob("*.txt"))
    return out


def _keep_first(data, n: int) -> None:
    """Keep the first ``n`` abstracts of a loaded SciFact."""
    keep = dict(list(data.corpus.items())[:n])
    data.corpus.clear()
    data.corpus.update(keep)


def _spawn(stack: str, files: list[Path], args, quality: Path | None) -> dict:
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump([str(p) for p in files], f)
    cmd = [sys.executable, __file__, "--worker", stack, "--files", f.name, "--models-home", str(args.models_home),
           "--batch", str(args.batch), "--encoder", args.encoder]
    if quality is not None:
        cmd += ["--quality-data", str(quality)]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(_HERE.parent), os.environ.get("PYTHONPATH")])))
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    os.unlink(f.name)
    if proc.returncode != 0:
        raise SystemExit(f"{stack} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _summary(rows: list[dict], key: str) -> tuple[float, float, float]:
    values = [r[key] for r in rows]
    return statistics.median(values), min(values), max(values)


def report(results: dict, stacks: list[str]) -> str:
    lines = []
    for corpus, by_stack in results.items():
        lines.append(f"\n== {corpus} ==")
        ours = {s: statistics.median(r["wall_s"] for r in by_stack[s]) for s in OURS if s in by_stack}
        lines.append(f"{'stack':11} {'wall s median [range]':>24} {'pages/s':>8} {'chunks/s':>9} {'chunks':>7}"
                     f" {'peak RSS MiB [range]':>22}  " + "  ".join(f"{s + ' faster by':>19}" for s in ours))
        for stack in stacks:
            rows = by_stack[stack]
            wall, lo, hi = _summary(rows, "wall_s")
            rss, rlo, rhi = _summary(rows, "peak_rss_mib")
            ratios = "  ".join(f"{(f'{wall / w:.2f}x' if stack not in OURS else ''):>19}" for w in ours.values())
            lines.append(f"{stack:11} {wall:8.1f} [{lo:6.1f}-{hi:6.1f}] {rows[0]['pages'] / wall:8.1f}"
                         f" {rows[0]['chunks'] / wall:9.1f} {rows[0]['chunks']:7d} {rss:7.0f} [{rlo:5.0f}-{rhi:5.0f}]"
                         f"  {ratios}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3, help="rounds per stack and corpus (default 3; 0 with --quality: "
                    "only the quality pass)")
    ap.add_argument("--corpus", choices=("all", "financebench", "scifact"), default="all")
    ap.add_argument("--stacks", default=",".join(STACKS), help="comma-separated subset of " + ",".join(STACKS))
    ap.add_argument("--limit", type=int, default=None, help="first N files of each corpus (a quick check)")
    ap.add_argument("--quality", action="store_true", help="also nDCG@10 on SciFact dev (whole corpus, once per stack)")
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--models-home", type=Path, default=default_models_home())
    ap.add_argument("--batch", type=int, default=0, help="one encoder batch size for every stack "
                    "(default: each stack's own default)")
    ap.add_argument("--encoder", default=ENCODER, help=f"the encoder every stack uses: a provisioned model's "
                    f"folder under the models home (default {ENCODER})")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--worker", choices=STACKS, help=argparse.SUPPRESS)
    ap.add_argument("--files", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--quality-data", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    _use_encoder(args.encoder)
    if args.worker:
        files = [Path(p) for p in json.loads(args.files.read_text())]
        print(json.dumps(worker(args.worker, files, args.models_home, args.quality_data, args.batch)))
        return 0

    stacks = [s for s in args.stacks.split(",") if s]
    results: dict[str, dict[str, list[dict]]] = {}
    quality: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for corpus, files in (_corpora(args, Path(tmp)) if args.rounds > 0 else {}).items():
            results[corpus] = {s: [] for s in stacks}
            for rnd in range(args.rounds):
                for stack in stacks:  # interleaved, so a load spike hits every stack alike
                    row = _spawn(stack, files, args, None)
                    results[corpus][stack].append(row)
                    print(f"{corpus} round {rnd + 1}/{args.rounds} {stack}: {row['wall_s']:.1f} s, "
                          f"{row['chunks']} chunks, {row['peak_rss_mib']:.0f} MiB", file=sys.stderr, flush=True)
        if args.quality:
            corpus_dir = Path(tmp) / "scifact-all"
            from eval.datasets.scifact import load_scifact, write_corpus

            data = load_scifact(args.data / "scifact")
            if args.limit:
                _keep_first(data, args.limit)
            write_corpus(data, corpus_dir)
            for stack in stacks:
                row = _spawn(stack, sorted(corpus_dir.glob("*.txt")), args, args.data / "scifact")
                quality[stack] = row["ndcg@10"]
                print(f"quality {stack}: nDCG@10 {row['ndcg@10']:.4f} over {row['queries']} claims",
                      file=sys.stderr, flush=True)
    if args.json:
        print(json.dumps({"results": results, "ndcg@10": quality}))
        return 0
    print(machine_line(machine()))
    print(f"encoder {ENCODER} (ours: onnx-int8, the default; ours-torch: torch fp32), "
          f"chunks {CHUNK_TOKENS} tokens / overlap {OVERLAP_TOKENS}, encoder batch "
          f"{args.batch or 'each stack its default (ours auto, LangChain 32, LlamaIndex 10)'}, {args.rounds} round(s)")
    print(report(results, stacks))
    if quality:
        print("\nSciFact dev nDCG@10: " + ", ".join(f"{s} {v:.4f}" for s, v in quality.items())
              + "  (ours hybrid; peers dense, their default)")
    print("\n'X faster by' = the peer's median wall / X's. Wall = load + split + embed + index,"
          " encoder already loaded; peak RSS = the worker process's maximum resident set.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
