"""A large chunk corpus with realistic vectors, for the retrieval benchmarks.

Chunks are windows of 1 to 7 consecutive real sentences (SQuAD 2.0 paragraphs and
SciFact abstracts), about 100,000 distinct texts. Embedding 100k chunks takes over an
hour on two busy cores, so each *sentence* is embedded once (cached on disk) and a
chunk's vector is the normalised mean of its sentences' vectors: it lies where real
chunk vectors lie (nearest-neighbour recall depends on that; random vectors, which
have no structure, are the worst case of every approximate index), at a fifth of the
cost. The search cost depends only on count and dimension.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
from pathlib import Path

from benchmarks._common import note

MAX_WINDOW = 7


def sentence_groups(data: Path) -> list[list[str]]:
    """Sentences of each SQuAD paragraph and SciFact abstract (sentences over 30 characters)."""
    groups = []
    squad = json.loads((data / "squad2" / "squad2_dev.json").read_text())
    for art in squad["data"]:
        for para in art["paragraphs"]:
            groups.append([s.strip() + "." for s in para["context"].split(". ") if len(s) > 30])
    with (data / "scifact" / "corpus.jsonl").open() as fh:
        for line in fh:
            groups.append([s for s in json.loads(line)["abstract"] if len(s) > 30])
    return [g for g in groups if g]


def windows(data: Path, n: int, seed: int = 1) -> tuple[list[str], list[str], list[list[int]]]:
    """``n`` chunks (shuffled): (chunk texts, the distinct sentences, each chunk's sentence indices).

    Short windows come first, so a smaller ``n`` holds mostly one- and two-sentence chunks.
    """
    groups = sentence_groups(data)
    sentences, start = [], []
    for g in groups:
        start.append(len(sentences))
        sentences.extend(g)
    spans = [(s0 + i, w) for w in range(1, MAX_WINDOW + 1) for g, s0 in zip(groups, start)
             for i in range(len(g) - w + 1)]
    if n > len(spans):
        raise SystemExit(f"the corpus has {len(spans):,} chunks; ask for at most that many")
    spans = spans[:n]
    random.Random(seed).shuffle(spans)
    texts = [" ".join(sentences[i:i + w]) for i, w in spans]
    used = sorted({j for i, w in spans for j in range(i, i + w)})  # only these need vectors
    where = {j: pos for pos, j in enumerate(used)}
    return texts, [sentences[j] for j in used], [[where[j] for j in range(i, i + w)] for i, w in spans]


def cached_vectors(embedder, texts: list[str], cache: Path, label: str):
    """``embedder``'s vectors for ``texts``, from ``cache`` when it holds them (keyed by
    encoder model and texts, whatever backend ran it), else embedded now and stored."""
    import numpy as np

    key = hashlib.sha256((embedder.name + "\0" + "\n".join(texts)).encode()).hexdigest()[:16]
    path = cache / f"{label}-{key}.npy"
    if path.exists():
        return np.load(path)
    out = np.empty((len(texts), embedder.dimension), dtype="float32")
    step = 2048
    for i in range(0, len(texts), step):
        out[i:i + step] = embedder.embed_batch(texts[i:i + step])
        note(f"  embedded {min(i + step, len(texts)):,}/{len(texts):,} {label}")
    cache.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
    with open(tmp, "wb") as fh:
        np.save(fh, out)
    os.replace(tmp, path)
    return out


def chunk_vectors(sentence_vectors, members: list[list[int]]):
    """Each chunk's vector: the normalised mean of its sentences' vectors."""
    import numpy as np

    out = np.empty((len(members), sentence_vectors.shape[1]), dtype="float32")
    for w in range(1, MAX_WINDOW + 1):
        rows = [r for r, m in enumerate(members) if len(m) == w]
        if rows:
            idx = np.asarray([members[r] for r in rows])
            out[rows] = sentence_vectors[idx].mean(axis=1)
    out /= np.linalg.norm(out, axis=1, keepdims=True)
    return out


def default_cache() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache")
    return Path(base) / "groundrag" / "bench-vectors"
