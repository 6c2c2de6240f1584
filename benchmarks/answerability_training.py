"""An answerability model of our own, trained from the packaged MiniLM on SQuAD 2.0 dev.

SQuAD 2.0 (CC BY-SA) pairs each question with the paragraph it was written on; a third
to a half of the questions have no answer there, written by crowd workers to look
answerable. The articles are split by a seeded hash: the questions of the training
articles train a cross-encoder (a linear head on MiniLM, binary loss, seeds pinned;
``benchmarks.verifier_training.train_model``), and the questions of the held-out
articles, whose paragraphs it never saw, measure it. Beside it, on the same held-out
questions, it scores the cheap lexical signal "how many of the question's content words
the paragraph holds" and, with ``--llm N``, the service's own first-token answerability
score from the default model (the answer prompt with the gold paragraph as its only
passage), so the three can be compared on one set::

    python benchmarks/answerability_training.py                 # ~12 minutes on 2 cores
    python benchmarks/answerability_training.py --llm 200       # + ~8 minutes of Qwen 2.5 1.5B
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._common import DEFAULT_DATA, default_models_home, machine, machine_line, note  # noqa: E402
from benchmarks.verifier_training import train_model  # noqa: E402
from eval.metrics.classification import auroc, balanced_accuracy, best_threshold  # noqa: E402
from rag.verify.features import content_stems  # noqa: E402


def split_articles(data: Path, test_articles: int, seed: int) -> tuple[list, list]:
    """(train, test) lists of (question, paragraph, answerable), split whole articles apart."""
    articles = json.loads((data / "squad2" / "squad2_dev.json").read_text())["data"]
    order = sorted(articles, key=lambda a: hashlib.sha256(f"{seed}:{a['title']}".encode()).hexdigest())
    test_titles = {a["title"] for a in order[:test_articles]}
    train, test = [], []
    for a in articles:
        for p in a["paragraphs"]:
            for q in p["qas"]:
                (test if a["title"] in test_titles else train).append(
                    (q["question"], p["context"], int(not q["is_impossible"])))
    note(f"held-out articles: {sorted(test_titles)}")
    return train, test


def coverage(question: str, paragraph: str, idf: dict[str, float]) -> float:
    """Share of the question's content words (idf-weighted) that the paragraph holds."""
    words = set(content_stems(question))
    if not words:
        return 1.0
    have = set(content_stems(paragraph))
    total = sum(idf.get(w, 1.0) for w in words)
    return sum(idf.get(w, 1.0) for w in words if w in have) / total


def idf_table(paragraphs: list[str]) -> dict[str, float]:
    from collections import Counter

    df = Counter(w for p in set(paragraphs) for w in set(content_stems(p)))
    n = len(set(paragraphs))
    return {w: math.log((n + 1) / (c + 0.5)) for w, c in df.items()}


def model_scores(folder: Path, pairs, max_len: int, batch: int = 32) -> list[float]:
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(folder))
    model = AutoModelForSequenceClassification.from_pretrained(str(folder)).eval()
    out = []
    with torch.inference_mode():
        for i in range(0, len(pairs), batch):
            b = pairs[i: i + batch]
            enc = tok([x[1] for x in b], [x[0] for x in b], truncation="only_first", max_length=max_len,
                      padding=True, return_tensors="pt")
            out.extend(torch.sigmoid(model(**enc).logits[:, 0]).tolist())
    return out


def llm_scores(pairs) -> list[float]:
    """The service's first-token answerability score, the gold paragraph as the only passage."""
    from rag.answer.answerability import answerable_score
    from rag.answer.prompt import build_prompt
    from rag.config import Settings
    from rag.generate import make_generator
    from rag.schemas import ChunkHit

    settings = Settings(models_home=default_models_home())
    gen = make_generator(settings)
    out = []
    t0 = time.time()
    for i, (question, paragraph, _) in enumerate(pairs):
        hit = ChunkHit(chunk_id=1, doc_id=1, source="paragraph.txt", title="paragraph", start=0,
                       end=len(paragraph), text=paragraph, score=1.0)
        prompt = build_prompt(question, [hit], count_tokens=gen.count_tokens, context_window=gen.context_window,
                              max_tokens=96)
        out.append(answerable_score(gen.first_token_logprobs(prompt.messages)))
        if i % 25 == 0:
            note(f"llm {i}/{len(pairs)} ({time.time() - t0:.0f} s)")
    return out


def report(name: str, scores: list[float], labels: list[bool], threshold: float) -> dict:
    row = {"auroc": round(auroc(scores, labels), 3),
           "balanced_accuracy_at_train_threshold": round(balanced_accuracy(scores, labels, threshold), 3),
           "train_threshold": round(threshold, 4)}
    note(f"{name}: {row}")
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--test-articles", type=int, default=2, help="articles held out for measuring")
    ap.add_argument("--epochs", type=float, default=2)
    ap.add_argument("--lr", type=float, default=4e-5)
    ap.add_argument("--max-len", type=int, default=256)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--llm", type=int, default=0, help="also score this many held-out questions with the LLM")
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--out", type=Path, default=None, help="keep the trained model here")
    ap.add_argument("--score", type=Path, default=None, help="only evaluate this trained model folder")
    args = ap.parse_args()

    import torch

    torch.manual_seed(args.seed)
    torch.set_num_threads(2)
    rng = random.Random(args.seed)
    print(machine_line(machine()))
    train, test = split_articles(args.data, args.test_articles, args.seed)
    rng.shuffle(train)
    note(f"train: {len(train)} questions ({sum(x[2] for x in train)} answerable); "
         f"held out: {len(test)} ({sum(x[2] for x in test)} answerable)")
    labels = [bool(x[2]) for x in test]
    train_labels = [bool(x[2]) for x in train]
    results: dict = {}

    idf = idf_table([x[1] for x in train + test])
    cov_train = [coverage(q, p, idf) for q, p, _ in train]
    results["question_word_coverage"] = report(
        "question-word coverage", [coverage(q, p, idf) for q, p, _ in test], labels,
        best_threshold(cov_train, train_labels))

    folder = args.score
    if folder is None:
        folder = args.out or Path(tempfile.mkdtemp(prefix="answerability-"))
        train_model(args, train, default_models_home() / "all-MiniLM-L6-v2", folder)
    fit = model_scores(folder, train[:600], args.max_len)
    scores = model_scores(folder, test, args.max_len)
    results["trained_cross_encoder"] = report("trained cross-encoder", scores, labels,
                                              best_threshold(fit, train_labels[:600]))

    if args.llm:
        pick = sorted(rng.sample(range(len(test)), min(args.llm, len(test))))
        sub = [test[i] for i in pick]
        sub_labels = [labels[i] for i in pick]
        llm = llm_scores(sub)
        results["llm_first_token_subset"] = {"questions": len(sub), "auroc": round(auroc(llm, sub_labels), 3)}
        results["trained_cross_encoder_subset"] = {"auroc": round(auroc([scores[i] for i in pick], sub_labels), 3)}
        results["sum_of_ranks_subset"] = {"auroc": round(auroc(
            [a + b for a, b in zip(_ranks(llm), _ranks([scores[i] for i in pick]))], sub_labels), 3)}
        note(f"subset of {len(sub)}: {results['llm_first_token_subset']} {results['trained_cross_encoder_subset']} "
             f"{results['sum_of_ranks_subset']}")
    results["args"] = {k: str(v) for k, v in vars(args).items()}
    print(json.dumps(results, indent=1))


def _ranks(values: list[float]) -> list[float]:
    order = sorted(range(len(values)), key=values.__getitem__)
    out = [0.0] * len(values)
    for r, i in enumerate(order):
        out[i] = r / max(1, len(values) - 1)
    return out


if __name__ == "__main__":
    main()
