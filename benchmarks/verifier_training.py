"""A verifier of our own: a cross-encoder trained from the packaged MiniLM on these 2 cores.

Training pairs (licensed only): the calibration halves of HaluEval QA (MIT) and SummEdits
(Apache-2.0), as split by ``eval.calibration``, and synthetic pairs from SQuAD 2.0 dev
paragraphs (CC BY-SA): a sentence of the paragraph, half the time rephrased with common
synonyms, is supported; the same sentence with one edit is not (a word swapped for a
related word, from MiniLM's nearest neighbours among the corpus words; an antonym; a
negation added or removed; a number changed; a name swapped; a clause from another
paragraph). A linear head on MiniLM is trained with a binary loss, seeds pinned.

It then scores the test halves of HaluEval, SummEdits and FaithBench the way the service
checks an answer: each sentence of a claim against every 192-token window of its
evidence (the best window counts), the claim as its weakest sentence. It prints AUROC
and balanced accuracy at the threshold fitted on the training sets' calibration halves
and at 0.5, to set beside the shipped verifiers' figures in docs/verification.md::

    python benchmarks/verifier_training.py                      # ~15 minutes on 2 cores
    python benchmarks/verifier_training.py --sets summedits --per-paragraph 5 --epochs 3 --lr 5e-5
    python benchmarks/verifier_training.py --dry                 # print synthetic pairs only
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._common import DEFAULT_DATA, default_models_home, machine, machine_line, note  # noqa: E402
from eval.calibration import load  # noqa: E402
from eval.datasets.pairs import split_halves  # noqa: E402
from eval.metrics.classification import auroc, balanced_accuracy, best_threshold  # noqa: E402
from rag.verify.features import STOPWORDS  # noqa: E402

SENT = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(])")
WORD = re.compile(r"[A-Za-z][a-z]+")

ANTONYMS = [("increase", "decrease"), ("increased", "decreased"), ("higher", "lower"), ("more", "less"),
            ("before", "after"), ("positive", "negative"), ("larger", "smaller"), ("large", "small"),
            ("first", "last"), ("early", "late"), ("earlier", "later"), ("north", "south"), ("east", "west"),
            ("improve", "worsen"), ("improves", "degrades"), ("strong", "weak"), ("stronger", "weaker"),
            ("fast", "slow"), ("faster", "slower"), ("high", "low"), ("maximum", "minimum"),
            ("supervised", "unsupervised"), ("success", "failure"), ("successful", "unsuccessful"),
            ("accept", "reject"), ("allow", "prevent"), ("easy", "hard"), ("simple", "complex"),
            ("inside", "outside"), ("majority", "minority"), ("rise", "fall"), ("won", "lost"),
            ("win", "lose"), ("best", "worst"), ("better", "worse"), ("old", "new"), ("older", "newer"),
            ("private", "public"), ("local", "global"), ("explicit", "implicit"), ("include", "exclude"),
            ("includes", "excludes"), ("upper", "lower"), ("long", "short"), ("longer", "shorter"),
            ("dense", "sparse"), ("linear", "nonlinear"), ("static", "dynamic"), ("same", "different"),
            ("always", "never"), ("all", "none"), ("many", "few"), ("most", "least")]
SYNONYMS = [("propose", "introduce"), ("proposes", "introduces"), ("proposed", "introduced"), ("show", "demonstrate"),
            ("shows", "demonstrates"), ("showed", "demonstrated"), ("use", "employ"), ("uses", "employs"),
            ("used", "employed"), ("using", "employing"), ("method", "approach"), ("methods", "approaches"),
            ("novel", "new"), ("achieve", "attain"), ("achieves", "attains"), ("results", "findings"),
            ("significant", "substantial"), ("significantly", "substantially"), ("large", "big"),
            ("help", "assist"), ("helps", "assists"), ("begin", "start"), ("began", "started"),
            ("built", "constructed"), ("build", "construct"), ("famous", "well-known"), ("about", "around"),
            ("large", "sizable"), ("obtain", "get"), ("obtained", "got"), ("allows", "enables"),
            ("allow", "enable"), ("study", "work"), ("paper", "work"), ("important", "key"),
            ("therefore", "thus"), ("approximately", "about"), ("several", "a number of"),
            ("located", "situated"), ("received", "got"), ("created", "made"), ("create", "make")]
NEGATE = [(" is ", " is not "), (" are ", " are not "), (" was ", " was not "), (" were ", " were not "),
          (" can ", " cannot "), (" does ", " does not "), (" has ", " has not "), (" will ", " will not "),
          (" could ", " could not "), (" did ", " did not ")]


def sentences(text: str) -> list[str]:
    return [s.strip() for s in SENT.split(text) if 8 <= len(s.split()) <= 45]


def squad_paragraphs(data: Path) -> list[str]:
    articles = json.loads((data / "squad2" / "squad2_dev.json").read_text())["data"]
    return [p["context"] for a in articles for p in a["paragraphs"]]


def swap_word(s: str, table: dict[str, str], rng) -> str | None:
    words = [(m.start(), m.end(), m.group()) for m in re.finditer(r"[A-Za-z-]+", s)]
    cands = [w for w in words if w[2].lower() in table]
    if not cands:
        return None
    a, b, w = rng.choice(cands)
    new = table[w.lower()]
    if w[0].isupper():
        new = new[0].upper() + new[1:]
    return s[:a] + new + s[b:]


def number_edit(s: str, rng) -> str | None:
    nums = list(re.finditer(r"\d[\d,]*(?:\.\d+)?", s))
    if not nums:
        return None
    m = rng.choice(nums)
    raw = m.group().replace(",", "")
    try:
        v = float(raw)
    except ValueError:
        return None
    if re.fullmatch(r"1[5-9]\d\d|20\d\d", raw):
        new = str(int(v) + rng.choice([-3, -2, -1, 1, 2, 5, 10]))
    elif "." in raw:
        new = f"{v * rng.choice([0.5, 1.3, 2, 0.8]):.{len(raw.split('.')[1])}f}"
    else:
        new = str(max(0, int(v * rng.choice([2, 3, 0.5, 10]) + rng.choice([0, 1, 7]))))
    if new == raw:
        return None
    return s[: m.start()] + new + s[m.end():]


def negation(s: str, rng) -> str | None:
    if " not " in s:
        return s.replace(" not ", " ", 1)
    opts = [(a, b) for a, b in NEGATE if a in s]
    if not opts:
        return None
    a, b = rng.choice(opts)
    return s.replace(a, b, 1)


def name_swap(s: str, names: list[str], rng) -> str | None:
    here = [m for m in re.finditer(r"\b[A-Z][a-z]{2,}(?: [A-Z][a-z]{2,})*", s) if m.start() > 0]
    if not here or not names:
        return None
    m = rng.choice(here)
    other = [n for n in names if n not in s]
    if not other:
        return None
    return s[: m.start()] + rng.choice(other) + s[m.end():]


def related_swap(s: str, neighbours: dict[str, list[str]], evidence: str, rng) -> str | None:
    low = evidence.lower()
    words = [m for m in re.finditer(r"[a-z]{4,}", s) if m.group() in neighbours]
    if not words:
        return None
    m = rng.choice(words)
    cands = [w for w in neighbours[m.group()] if w not in low]
    if not cands:
        return None
    return s[: m.start()] + rng.choice(cands[:5]) + s[m.end():]


def paraphrase(s: str, rng) -> str:
    out = swap_word(s, dict(SYNONYMS), rng) or s
    if rng.random() < 0.3 and ", " in out:  # drop a leading clause
        head, tail = out.split(", ", 1)
        if len(tail.split()) >= 6 and len(head.split()) <= 8:
            out = tail[0].upper() + tail[1:]
    return out


def build_neighbours(texts: list[str], encoder: Path) -> dict[str, list[str]]:
    """Each frequent corpus word's related words: MiniLM cosine 0.45-0.85, another stem."""
    from collections import Counter

    import numpy as np
    from sentence_transformers import SentenceTransformer

    counts = Counter(w.lower() for t in texts for w in WORD.findall(t))
    vocab = [w for w, c in counts.items() if c >= 2 and len(w) >= 4 and w not in STOPWORDS][:8000]
    model = SentenceTransformer(str(encoder), device="cpu")
    vec = model.encode(vocab, batch_size=256, normalize_embeddings=True)
    sims = vec @ vec.T
    out = {}
    for i, w in enumerate(vocab):
        order = np.argsort(-sims[i])[1:40]
        out[w] = [vocab[j] for j in order if 0.45 < sims[i, j] < 0.85 and vocab[j][:4] != w[:4]][:8]
    return {w: n for w, n in out.items() if n}


def synthetic(paragraphs: list[str], neighbours, rng, per_paragraph: int = 3) -> list[tuple[str, str, int]]:
    names = sorted({m.group() for p in paragraphs for m in re.finditer(r"\b[A-Z][a-z]{3,}(?: [A-Z][a-z]{3,})+", p)})
    out = []
    for para in paragraphs:
        sents = sentences(para)
        rng.shuffle(sents)
        for s in sents[:per_paragraph]:
            out.append((paraphrase(s, rng) if rng.random() < 0.6 else s, para, 1))
            kinds = ["related", "related", "antonym", "negation", "number", "name", "insert"]
            rng.shuffle(kinds)
            for kind in kinds:
                if kind == "related":
                    neg = related_swap(s, neighbours, para, rng)
                elif kind == "antonym":
                    table = {a: b for a, b in ANTONYMS} | {b: a for a, b in ANTONYMS}
                    neg = swap_word(s, table, rng)
                elif kind == "negation":
                    neg = negation(s, rng)
                elif kind == "number":
                    neg = number_edit(s, rng)
                elif kind == "name":
                    neg = name_swap(s, names, rng)
                else:
                    other = sentences(paragraphs[rng.randrange(len(paragraphs))])
                    neg = s.rstrip(".") + ", and " + other[0][0].lower() + other[0][1:] if other else None
                if neg and neg != s:
                    if rng.random() < 0.4:
                        neg = paraphrase(neg, rng)
                    out.append((neg, para, 0))
                    break
    return out


def windows(tokenizer, evidence: str, size: int) -> list[str]:
    """The evidence in windows of ``size`` tokens, each overlapping the next by a third."""
    ids = tokenizer(evidence, add_special_tokens=False)["input_ids"]
    if len(ids) <= size:
        return [evidence]
    stride = size * 2 // 3
    return [tokenizer.decode(ids[i: i + size]) for i in range(0, len(ids) - size + stride, stride)]


def score_pairs(model, tokenizer, pairs, max_len: int, batch: int = 32) -> list[float]:
    """Each claim sentence against every evidence window (best window); a claim is its weakest sentence."""
    import torch

    jobs, owner = [], []
    for k, (claim, evidence) in enumerate(pairs):
        wins = windows(tokenizer, evidence, size=max_len - 64)
        for sent in sentences(claim) or [claim]:
            for w in wins:
                jobs.append((w, sent))
                owner.append((k, sent))
    out = []
    model.eval()
    with torch.inference_mode():
        for i in range(0, len(jobs), batch):
            enc = tokenizer([j[0] for j in jobs[i: i + batch]], [j[1] for j in jobs[i: i + batch]],
                            truncation="only_first", max_length=max_len, padding=True, return_tensors="pt")
            out.extend(torch.sigmoid(model(**enc).logits[:, 0]).tolist())
    best: dict = {}
    for key, v in zip(owner, out):
        best[key] = max(best.get(key, 0.0), v)
    claim: dict = {}
    for (k, _), v in best.items():
        claim[k] = min(claim.get(k, 1.0), v)
    return [claim[k] for k in range(len(pairs))]


def training_pairs(args, halves, encoder: Path, rng) -> list[tuple[str, str, int]]:
    """(claim, evidence, supported) from the licensed calibration halves and the synthetic edits."""
    train = [(p.claim, p.evidence, int(p.supported)) for name in args.sets.split(",") if name
             for p in halves[name][0]]
    note(f"licensed calibration pairs: {len(train)} ({args.sets})")
    if args.per_paragraph:
        paras = squad_paragraphs(args.data)
        rng.shuffle(paras)
        syn = synthetic(paras, build_neighbours(paras, encoder), rng, per_paragraph=args.per_paragraph)
        note(f"synthetic pairs: {len(syn)} ({sum(s[2] for s in syn)} supported) from {len(paras)} SQuAD 2.0 paragraphs")
        train += syn
    rng.shuffle(train)
    return train


def train_model(args, train, encoder: Path, out: Path) -> None:
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(encoder))
    model = AutoModelForSequenceClassification.from_pretrained(str(encoder), num_labels=1)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.01)
    steps = int(len(train) * args.epochs / args.batch)
    warm = max(1, steps // 10)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, s / warm) * max(0.0, 1 - s / steps))
    lossf = torch.nn.BCEWithLogitsLoss()
    model.train()
    t0 = time.time()
    for step in range(steps):
        i = (step * args.batch) % len(train)
        b = train[i: i + args.batch] or train[: args.batch]
        enc = tok([x[1] for x in b], [x[0] for x in b], truncation="only_first", max_length=args.max_len,
                  padding=True, return_tensors="pt")
        loss = lossf(model(**enc).logits[:, 0], torch.tensor([float(x[2]) for x in b]))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        opt.zero_grad()
        if step % 50 == 0:
            note(f"step {step}/{steps} loss {loss.item():.3f} ({time.time() - t0:.0f} s)")
    note(f"trained {steps} steps in {time.time() - t0:.0f} s")
    model.save_pretrained(out)
    tok.save_pretrained(out)


def evaluate(args, halves, folder: Path) -> dict:
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(folder))
    model = AutoModelForSequenceClassification.from_pretrained(str(folder))
    sets = [name for name in args.sets.split(",") if name]
    pooled_s, pooled_l = [], []
    for name in sets:  # the threshold comes from the calibration halves it was trained on
        cal = halves[name][0]
        pooled_s += score_pairs(model, tok, [(p.claim, p.evidence) for p in cal], args.max_len)
        pooled_l += [p.supported for p in cal]
    fitted = best_threshold(pooled_s, pooled_l)
    results: dict = {"fitted_threshold": round(fitted, 4)}
    for name in ("halueval", "summedits", "faithbench"):
        test = halves[name][1][: args.test_limit]
        scores = score_pairs(model, tok, [(p.claim, p.evidence) for p in test], args.max_len)
        labels = [p.supported for p in test]
        results[name] = {"test_pairs": len(test), "unsupported": labels.count(False),
                         "auroc": round(auroc(scores, labels), 3),
                         "balanced_accuracy_at_fitted": round(balanced_accuracy(scores, labels, fitted), 3),
                         "balanced_accuracy_at_0.5": round(balanced_accuracy(scores, labels, 0.5), 3)}
        note(f"{name}: {results[name]}")
    return results


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sets", default="halueval,summedits", help="licensed calibration halves to train on")
    ap.add_argument("--per-paragraph", type=int, default=3, help="synthetic pairs per SQuAD paragraph (0: none)")
    ap.add_argument("--epochs", type=float, default=2)
    ap.add_argument("--lr", type=float, default=4e-5)
    ap.add_argument("--max-len", type=int, default=256)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--test-limit", type=int, default=400, help="test pairs per set at most")
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--out", type=Path, default=None, help="keep the trained model here")
    ap.add_argument("--score", type=Path, default=None, help="only evaluate this trained model folder")
    ap.add_argument("--dry", action="store_true", help="print some synthetic pairs and stop")
    args = ap.parse_args()

    import torch

    torch.manual_seed(args.seed)
    torch.set_num_threads(2)
    rng = random.Random(args.seed)
    encoder = default_models_home() / "all-MiniLM-L6-v2"
    print(machine_line(machine()))
    halves = {name: split_halves(load(name, args.data)) for name in ("halueval", "summedits", "faithbench")}
    folder = args.score
    if folder is None:
        train = training_pairs(args, halves, encoder, rng)
        if args.dry:
            for claim, _, label in train[:40]:
                print(label, claim[:200])
            return
        folder = args.out or Path(tempfile.mkdtemp(prefix="verifier-"))
        train_model(args, train, encoder, folder)
    results = evaluate(args, halves, folder)
    results["args"] = {k: str(v) for k, v in vars(args).items()}
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
