"""Agreement of the support verifiers with human labels, and their calibration.

Each dataset becomes (claim, evidence, supported) pairs, split deterministically by
source document into a calibration half and a test half. On the calibration half
the program picks each verifier's threshold (maximising balanced accuracy) and fits
the combined verifier's weights (licensed sets only: HaluEval QA, SummEdits); the
test half reports balanced accuracy, AUROC and F1 on the unsupported class, both at
the dataset's own threshold and at the shipped one (fitted on the licensed
calibration halves pooled). The judge runs on a bounded sample (``--limit``); its
scores are cached so re-runs cost nothing.

Run: ``python -m eval.calibration [--datasets halueval,summedits,faithbench] [--limit 100]
[--verifiers lexical,combined,judge,combined_judge] [--write] [--out FILE] [--json]``
(``--limit halueval=40,summedits=24`` sets the judge's sample per dataset; 0 skips it).
(``--write`` updates rag/verify/calibration.json).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from eval.datasets.pairs import SEED, LabeledPair, sample_groups, split_halves
from eval.metrics.classification import best_threshold, report

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "datasets"
#: Datasets whose licences allow shipping weights fitted on them.
LICENSED = ("halueval", "summedits")
DATASETS = ("halueval", "summedits", "faithbench")
VERIFIERS = ("lexical", "combined", "judge", "combined_judge")
JUDGED = ("judge", "combined_judge")


def load(name: str, data: Path = DATA) -> list[LabeledPair]:
    """The pairs of one dataset by name."""
    if name == "halueval":
        from eval.datasets.halueval import load_halueval_qa

        return load_halueval_qa(data / "halueval_qa" / "qa_0-999.jsonl")
    if name == "summedits":
        from eval.datasets.summedits import load_summedits

        return load_summedits(data / "summedits" / "summedits_scitldr.json")
    if name == "faithbench":
        from eval.datasets.faithbench import load_faithbench

        return load_faithbench(data / "faithbench")
    raise SystemExit(f"unknown dataset {name!r}; choose from {', '.join(DATASETS)}")


class JudgeCache:
    """Judge P(yes) per (model, claim, evidence), kept in a JSON-lines file between runs."""

    def __init__(self, path: Path | None, model: str) -> None:
        self.path, self.model, self.scores, self.seconds = path, model, {}, {}
        if path and path.exists():
            for line in path.read_text().splitlines():
                rec = json.loads(line)
                if rec["model"] == model:
                    self.scores[rec["key"]] = rec["p"]
                    if rec.get("s") is not None:
                        self.seconds[rec["key"]] = rec["s"]

    @staticmethod
    def key(p: LabeledPair) -> str:
        import hashlib

        return hashlib.sha256(f"{p.claim}\x00{p.evidence}".encode()).hexdigest()[:24]

    def get(self, p: LabeledPair) -> float | None:
        return self.scores.get(self.key(p))

    def put(self, p: LabeledPair, value: float, seconds: float | None = None) -> None:
        self.scores[self.key(p)] = value
        if seconds is not None:
            self.seconds[self.key(p)] = seconds
        if self.path:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a") as fh:
                fh.write(json.dumps({"model": self.model, "key": self.key(p), "p": value, "s": seconds}) + "\n")


def judge_scores(pairs: list[LabeledPair], judge, cache: JudgeCache) -> tuple[list[float], float]:
    """P(yes) for each pair (cached ones free) and pairs/s of the calls (as measured when first made)."""
    from tqdm import tqdm

    out, spent, done = [], 0.0, 0  # done, spent: calls with a known duration
    for p in tqdm(pairs, desc="judge", unit="pair", file=sys.stderr, disable=not sys.stderr.isatty()):
        value = cache.get(p)
        if value is None:
            t = time.perf_counter()
            value = judge.score([(p.claim, p.evidence)])[0]
            cache.put(p, value, time.perf_counter() - t)
        seconds = cache.seconds.get(cache.key(p))
        if seconds is not None:
            spent, done = spent + seconds, done + 1
        out.append(value)
    return out, (done / spent if spent else float("nan"))


def _limits(text: str, datasets: list[str]) -> dict[str, int]:
    """``"100"`` → the same for every dataset; ``"halueval=40,summedits=24"`` → per dataset."""
    if "=" not in text:
        return {d: int(text) for d in datasets}
    return {k.strip(): int(v) for k, v in (part.split("=") for part in text.split(",") if part.strip())}


def run(datasets: list[str], verifiers: list[str], *, limit: int | dict[str, int] = 100, judge=None,
        cache: JudgeCache | None = None, max_pairs: int | None = None, data: Path = DATA) -> dict:
    """Score every verifier on every dataset; returns the result tree (see the module doc)."""
    from rag.verify.combined import FEATURES, JUDGE_FEATURE, judge_logit
    from rag.verify.features import feature_vector
    from rag.verify.lexical import lexical_score

    halves, scores, speed = {}, {}, {}
    for name in datasets:
        pairs = sample_groups(load(name, data), max_pairs)
        calib, test = split_halves(pairs)
        halves[name] = {"calibration": calib, "test": test}
        both = calib + test
        t = time.perf_counter()
        lex = {p.id: lexical_score(p.claim, p.evidence) for p in both}
        speed[(name, "lexical")] = len(both) / (time.perf_counter() - t)
        t = time.perf_counter()
        feats = {p.id: feature_vector(p.claim, p.evidence) for p in both}
        speed[(name, "features")] = len(both) / (time.perf_counter() - t)
        scores[(name, "lexical")] = lex
        scores[(name, "features")] = feats
        if any(v in JUDGED for v in verifiers) and judge is not None:
            n_judge = limit.get(name, 0) if isinstance(limit, dict) else limit
            sample = sample_groups(calib, n_judge // 2) + sample_groups(test, n_judge - n_judge // 2)
            values, rate = judge_scores(sample, judge, cache or JudgeCache(None, judge.name))
            scores[(name, "judge")] = dict(zip((p.id for p in sample), values))
            speed[(name, "judge")] = rate

    from eval.calibration_fit import fit_logistic

    from rag.verify.calibration import load_calibration
    from rag.verify.combined import LogisticModel

    fit_sets = [n for n in datasets if n in LICENSED]
    committed = load_calibration().get("verifiers", {})
    # Without a licensed set to fit on, the committed weights are measured.
    models = {k: LogisticModel.from_dict(e["model"]) for k, e in committed.items() if "model" in e and not fit_sets}
    if "combined" in verifiers and fit_sets:
        rows, labels, groups = [], [], []
        for n in fit_sets:
            for p in halves[n]["calibration"]:
                rows.append(scores[(n, "features")][p.id]), labels.append(p.supported), groups.append(n)
        models["combined"] = fit_logistic(rows, labels, groups, FEATURES)
    if "combined_judge" in verifiers and judge is not None and fit_sets:
        rows, labels, groups = [], [], []
        for n in fit_sets:
            js = scores[(n, "judge")]
            for p in halves[n]["calibration"]:
                if p.id in js:
                    rows.append(scores[(n, "features")][p.id] + [judge_logit(js[p.id])])
                    labels.append(p.supported), groups.append(n)
        models["combined_judge"] = fit_logistic(rows, labels, groups, list(FEATURES) + [JUDGE_FEATURE])

    def verifier_scores(name: str, v: str) -> dict[str, float]:
        if v == "lexical":
            return scores[(name, "lexical")]
        if v == "judge":
            return scores.get((name, "judge"), {})
        f = scores[(name, "features")]
        if v == "combined":
            return {i: models["combined"].predict(x) for i, x in f.items()} if "combined" in models else {}
        js = scores.get((name, "judge"), {})
        m = models.get("combined_judge")
        return {i: m.predict(f[i] + [judge_logit(p)]) for i, p in js.items()} if m else {}

    result: dict = {"seed": SEED, "datasets": {}, "verifiers": {}}
    for v in verifiers:
        pooled_s, pooled_y = [], []
        for n in fit_sets:
            s = verifier_scores(n, v)
            for p in halves[n]["calibration"]:
                if p.id in s:
                    pooled_s.append(s[p.id]), pooled_y.append(p.supported)
        if pooled_s:
            shipped = best_threshold(pooled_s, pooled_y)
        else:  # no licensed set in this run: measure the committed threshold
            shipped = committed.get(v, {}).get("threshold", 0.5)
        entry = {"threshold": round(shipped, 4), "fitted_on": fit_sets or committed.get(v, {}).get("fitted_on", []),
                 "fitted_pairs": len(pooled_s) or committed.get(v, {}).get("fitted_pairs")}
        if v in models:
            entry["model"] = models[v].to_dict()
        result["verifiers"][v] = entry
        for n in datasets:
            s = verifier_scores(n, v)
            if not s:
                continue
            parts = {}
            for half in ("calibration", "test"):
                ps = [p for p in halves[n][half] if p.id in s]
                parts[half] = ([s[p.id] for p in ps], [p.supported for p in ps])
            own = best_threshold(*parts["calibration"])
            key = "features" if v == "combined" else ("judge" if v in JUDGED else v)
            result["datasets"].setdefault(n, {})[v] = {
                "calibration": report(*parts["calibration"], own),
                "test": report(*parts["test"], own),
                "test_at_shipped_threshold": report(*parts["test"], shipped),
                "pairs_per_second": _rate(speed.get((n, key))),
            }
    return result


def _rate(x: float | None) -> float | None:
    return None if x is None or x != x else round(x, 3)


def print_table(result: dict, out=sys.stdout) -> None:
    """A readable summary: one row per dataset and verifier (test half)."""
    head = (f"{'dataset':<11} {'verifier':<15} {'n':>5} {'BA':>6} {'AUROC':>6} {'F1(u)':>6} {'thr':>6} "
            f"{'BA@ship':>7} {'pairs/s':>9}")
    print(head, file=out)
    print("-" * len(head), file=out)
    for n, per in result["datasets"].items():
        for v, r in per.items():
            t, s = r["test"], r["test_at_shipped_threshold"]
            print(f"{n:<11} {v:<15} {t['n']:>5} {t['balanced_accuracy']:>6.3f} {t['auroc']:>6.3f} "
                  f"{t['f1_unsupported']:>6.3f} {t['threshold']:>6.3f} {s['balanced_accuracy']:>7.3f} "
                  f"{r['pairs_per_second'] or float('nan'):>9.2f}", file=out)


def print_markdown(result: dict, out=sys.stdout) -> None:
    """The results as a Markdown table (for docs/verification.md)."""
    print("| dataset | verifier | test pairs (unsupported) | balanced acc. | AUROC | F1 unsupported | threshold "
          "(own) | balanced acc. @ shipped thr. | calibration-half balanced acc. | pairs/s |", file=out)
    print("|---|---|---|---|---|---|---|---|---|---|", file=out)
    for n, per in result["datasets"].items():
        for v, r in per.items():
            t, s, c = r["test"], r["test_at_shipped_threshold"], r["calibration"]
            print(f"| {n} | {v} | {t['n']} ({t['unsupported']}) | {t['balanced_accuracy']:.3f} | {t['auroc']:.3f} | "
                  f"{t['f1_unsupported']:.3f} | {t['threshold']:.3f} | {s['balanced_accuracy']:.3f} | "
                  f"{c['balanced_accuracy']:.3f} | {r['pairs_per_second'] or float('nan'):.3g} |", file=out)


def write_calibration(result: dict, path: Path) -> None:
    """Store the shipped thresholds and weights (not the measurements) for rag.verify."""
    old = json.loads(path.read_text()) if path.exists() else {}
    verifiers = old.get("verifiers", {})
    verifiers.update(result["verifiers"])
    doc = {"about": "Written by `python -m eval.calibration --write`; fitted on the calibration halves of "
                    "HaluEval QA (MIT) and SummEdits (Apache-2.0) only. See docs/verification.md.",
           "seed": result["seed"], "verifiers": verifiers}
    path.write_text(json.dumps(doc, indent=1) + "\n")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m eval.calibration", description=__doc__.split("\n\n")[0])
    ap.add_argument("--datasets", default=",".join(DATASETS))
    ap.add_argument("--verifiers", default="lexical,combined")
    ap.add_argument("--limit", default="100",
                    help="pairs per dataset for the judge: N, or name=N,... (default 100)")
    ap.add_argument("--max-pairs", type=int, default=None, help="cap every dataset (quick runs)")
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--cache", type=Path, default=None, help="judge score cache (default RAG_HOME/eval-cache/)")
    ap.add_argument("--out", type=Path, default=None, help="write the full results JSON here")
    ap.add_argument("--write", action="store_true", help="update rag/verify/calibration.json")
    ap.add_argument("--json", action="store_true", help="print the results as JSON")
    ap.add_argument("--markdown", action="store_true", help="print the results as a Markdown table")
    args = ap.parse_args(argv)
    datasets = [d.strip() for d in args.datasets.split(",") if d.strip()]
    verifiers = [v.strip() for v in args.verifiers.split(",") if v.strip()]
    unknown = [v for v in verifiers if v not in VERIFIERS]
    if unknown:
        ap.error(f"unknown verifier(s) {unknown}; choose from {', '.join(VERIFIERS)}")
    judge = cache = None
    if any(v in JUDGED for v in verifiers):
        from rag.config import get_settings
        from rag.generate import make_generator
        from rag.verify.judge import JudgeVerifier

        settings = get_settings()
        judge = JudgeVerifier(make_generator(settings))
        cache = JudgeCache(args.cache or settings.home / "eval-cache" / "judge_scores.jsonl", judge.name)
    started = time.perf_counter()
    result = run(datasets, verifiers, limit=_limits(args.limit, datasets), judge=judge, cache=cache,
                 max_pairs=args.max_pairs, data=args.data)
    result["seconds"] = round(time.perf_counter() - started, 1)
    result["judge_model"] = judge.name if judge else None
    if args.out:
        args.out.write_text(json.dumps(result, indent=1) + "\n")
    if args.write:
        from rag.verify.calibration import PATH

        write_calibration(result, PATH)
    if args.json:
        print(json.dumps(result, indent=1))
    elif args.markdown:
        print_markdown(result)
    else:
        print_table(result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
