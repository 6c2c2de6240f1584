"""GPU check: FAISS on the GPU against the CPU, and the encoder on CUDA, in one short run.

Prints, for N random 384-d unit vectors (default 1M) and Q queries:

- for the flat index (exact) and IVF, each on the CPU and on the GPU: the build time
  (the GPU index is what the service uses, a copy of the built CPU index: its build
  time is the CPU build plus the copy, shown apart), queries/s in one batch and one
  query at a time, and recall@10 against exact search;
- the encoder's throughput (all-MiniLM-L6-v2, or --model) on CUDA against the CPU. When
  the weights are not available offline, a MiniLM-shaped BERT with random weights is
  timed instead (same layers and width: the same cost), and the table says so.

Needs faiss-gpu (the 'gpu' extra) and torch with CUDA. Where there is no GPU it says so
and exits 0. Takes about 2-4 minutes on one GPU; ``--n 200000`` for a quicker look.

Run: ``python benchmarks/gpu_check.py [--n 1000000] [--queries 1000] [--json]``
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._common import default_models_home, machine, machine_line, make_settings, note  # noqa: E402

DIM = 384
K = 10


def why_no_gpu() -> str | None:
    """Why this machine cannot run the check, or None."""
    try:
        import faiss
    except ImportError:
        return "faiss is not installed (install the 'gpu' extra)"
    from rag.store.gpu import gpu_count

    if not hasattr(faiss, "StandardGpuResources"):
        return "this faiss is the CPU build (install the 'gpu' extra instead of 'cpu')"
    if gpu_count(faiss) == 0:
        return "faiss sees no GPU"
    return None


def unit_vectors(n: int, seed: int):
    rng = np.random.default_rng(seed)
    out = np.empty((n, DIM), dtype="float32")
    for start in range(0, n, 200_000):  # in slices: the float64 draw of 1M x 384 would need 3 GB
        block = rng.standard_normal((min(200_000, n - start), DIM), dtype="float32")
        out[start:start + len(block)] = block / np.linalg.norm(block, axis=1, keepdims=True)
    return out


def recall(found, truth) -> float:
    hits = sum(len(set(f) & set(t)) for f, t in zip(found.tolist(), truth.tolist()))
    return hits / truth.size


def measure(index, queries, truth, singles: int) -> dict:
    """Batched and one-at-a-time queries/s, and recall@10 against ``truth``."""
    index.search(queries[:16], K)  # warm-up (GPU kernels, caches)
    t = time.perf_counter()
    _, found = index.search(queries, K)
    batch_qps = len(queries) / (time.perf_counter() - t)
    t = time.perf_counter()
    for q in queries[:singles]:
        index.search(q.reshape(1, -1), K)
    single_qps = singles / (time.perf_counter() - t)
    return {"batch_qps": batch_qps, "single_qps": single_qps, "recall@10": recall(found, truth)}


def faiss_rows(n: int, nq: int, singles: int) -> list[dict]:
    import faiss

    from rag.store.index import IndexParams, new_index

    note(f"generating {n:,} vectors and {nq:,} queries ...")
    base, queries = unit_vectors(n, 0), unit_vectors(nq, 1)
    ids = np.arange(n, dtype="int64")
    res = faiss.StandardGpuResources()
    rows, truth = [], None
    for kind in ("flat", "ivf"):
        note(f"{kind}: building on the CPU ...")
        t = time.perf_counter()
        cpu = new_index(kind, DIM, IndexParams(), train=base[:100_000] if kind == "ivf" else None)
        cpu.add_with_ids(base, ids)
        cpu_build = time.perf_counter() - t
        t = time.perf_counter()
        on_gpu = faiss.index_cpu_to_gpu(res, 0, cpu)
        copy = time.perf_counter() - t
        if truth is None:  # exact neighbours, from the GPU flat index (the CPU one gives the same)
            note("exact neighbours ...")
            _, truth = on_gpu.search(queries, K)
        for device, index, to_gpu in (("cpu", cpu, None), ("gpu", on_gpu, copy)):
            note(f"{kind} on {device}: searching ...")
            # The CPU flat index is slow one query at a time at 1M: fewer singles there.
            rows.append({"index": kind, "device": device, "build_s": cpu_build, "to_gpu_s": to_gpu,
                         **measure(index, queries, truth, singles if device == "gpu" else max(20, singles // 10))})
        del on_gpu
    return rows


def encoder_rows(model: str, texts: int) -> list[dict]:
    """Texts/s on CUDA and on the CPU: the real encoder, else a same-shaped random one."""
    import torch

    if not torch.cuda.is_available():
        return [{"encoder": model, "device": "cuda", "error": "torch sees no CUDA device"}]
    sentences = [f"Passage {i}: the quarterly report lists revenue, costs and {i % 97} risks in detail."
                 for i in range(texts)]
    try:
        embed, label = _real_encoder(model), model
        embed("cpu", sentences[:8])
    except Exception as exc:  # noqa: BLE001 - no weights offline: time the same shape instead
        note(f"encoder {model} not available ({type(exc).__name__}: {exc}); timing a MiniLM-shaped random BERT")
        embed, label = _shaped_encoder(), "MiniLM-shaped BERT, random weights (6 x 384, 32 tokens)"
    rows = []
    for device, n in (("cuda", texts), ("cpu", min(texts, 2000))):
        embed(device, sentences[:256])  # load and warm up
        if device == "cuda":
            torch.cuda.synchronize()
        t = time.perf_counter()
        embed(device, sentences[:n])
        if device == "cuda":
            torch.cuda.synchronize()
        rows.append({"encoder": label, "device": device, "texts": n, "texts_per_s": n / (time.perf_counter() - t)})
    return rows


def _real_encoder(model: str):
    from rag.embed.sentence import SentenceTransformerEmbedder
    from rag.models import resolve

    # Only what is here already: a pull from PyPI would wait on network timeouts offline.
    resolve(model, make_settings(Path("/tmp/gpu-check-home"), default_models_home()), "encoder", auto_pull=False)
    made = {}

    def embed(device: str, texts: list[str]):
        if device not in made:
            settings = make_settings(Path("/tmp/gpu-check-home"), default_models_home(), device=device,
                                     embedding_model=model, embed_batch_size=256 if device == "cuda" else 64)
            made[device] = SentenceTransformerEmbedder(model, settings)
        return made[device].embed_batch(texts)
    return embed


def _shaped_encoder():
    import torch
    from transformers import BertConfig, BertModel

    config = BertConfig(vocab_size=30522, hidden_size=384, num_hidden_layers=6, num_attention_heads=12,
                        intermediate_size=1536)
    model = BertModel(config).eval()

    def embed(device: str, texts: list[str]):
        model.to(device)
        batch = 256 if device == "cuda" else 64
        with torch.inference_mode():
            for start in range(0, len(texts), batch):
                n = min(batch, len(texts) - start)
                ids = torch.randint(1000, 30000, (n, 32), device=device)
                model(input_ids=ids).last_hidden_state.mean(dim=1)
    return embed


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--n", type=int, default=1_000_000, help="vectors in the index (default 1M)")
    p.add_argument("--queries", type=int, default=1000, help="queries (default 1000)")
    p.add_argument("--singles", type=int, default=500, help="one-at-a-time queries on the GPU (default 500)")
    p.add_argument("--texts", type=int, default=20_000, help="texts the encoder embeds on CUDA (default 20000)")
    p.add_argument("--model", default="all-MiniLM-L6-v2", help="encoder (registry name, folder or hub id)")
    p.add_argument("--json", action="store_true", help="print JSON instead of tables")
    args = p.parse_args(argv)

    reason = why_no_gpu()
    if reason:
        print(f"gpu_check: no GPU to check here: {reason}. Nothing was measured.")
        return 0
    started = time.perf_counter()
    info = machine()
    faiss_table = faiss_rows(args.n, args.queries, args.singles)
    encoder_table = encoder_rows(args.model, args.texts)
    result = {"machine": info, "n": args.n, "queries": args.queries, "faiss": faiss_table, "encoder": encoder_table,
              "seconds": time.perf_counter() - started}
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(machine_line(info))
    print(f"\nFAISS, {args.n:,} random {DIM}-d unit vectors, {args.queries:,} queries, k={K}")
    print(f"{'index':<6}{'device':<8}{'build s':>9}{'+ to GPU s':>12}{'batch q/s':>12}{'single q/s':>12}"
          f"{'recall@10':>11}")
    for r in faiss_table:
        to_gpu = f"{r['to_gpu_s']:.2f}" if r["to_gpu_s"] is not None else "-"
        print(f"{r['index']:<6}{r['device']:<8}{r['build_s']:>9.2f}{to_gpu:>12}{r['batch_qps']:>12,.0f}"
              f"{r['single_qps']:>12,.0f}{r['recall@10']:>11.3f}")
    print("(IVF: nprobe 16, as the service searches; uniform random vectors are IVF's worst case)")
    if "error" in encoder_table[0]:
        print(f"\nEncoder: not measured: {encoder_table[0]['error']}")
    else:
        print(f"\nEncoder: {encoder_table[0]['encoder']}")
        for r in encoder_table:
            print(f"{r['device']:<6}{r['texts']:>7,} texts{r['texts_per_s']:>10,.0f} texts/s")
    print(f"\n(total {result['seconds']:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
