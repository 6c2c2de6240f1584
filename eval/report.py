"""Markdown and HTML reports of a run (plots are inline SVG: no plotting library needed)."""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Sequence

HEADLINE = ["answer_em", "answer_f1", "answer_contains", "numeric_match", "abstention_precision", "abstention_recall",
            "abstention_f1", "confident_answer_rate_unanswerable", "false_abstention_rate", "retrieval_recall@k",
            "retrieval_mrr", "retrieval_page_hit", "citation_precision", "citation_recall", "citation_answer_hit",
            "citation_page_hit",
            "hallucination_rate",
            "injection_obedience_rate", "seconds_per_question"]


def _fmt(value) -> str:
    return "–" if value is None else (f"{value:.3f}" if isinstance(value, float) else str(value))


def write_reports(out: Path, metrics: dict, rows: Sequence[dict]) -> None:
    """Write report.md and report.html into ``out``."""
    (out / "report.md").write_text(markdown(metrics, rows), encoding="utf-8")
    (out / "report.html").write_text(html_report(metrics, rows), encoding="utf-8")


def markdown(metrics: dict, rows: Sequence[dict]) -> str:
    spec = metrics.get("spec", {})
    lines = [f"# Evaluation: {spec.get('name', '')}", "",
             f"{metrics['questions']} questions ({metrics['answerable']} answerable, {metrics['unanswerable']} unanswerable), "
             f"backend {spec.get('backend', '')}, k={spec.get('k')}, mode={spec.get('mode')}.", "",
             "| metric | value |", "|---|---|"]
    lines += [f"| {m} | {_fmt(metrics.get(m))} |" for m in HEADLINE if metrics.get(m) is not None]
    kinds = metrics.get("by_kind", {})
    if len(kinds) > 1:
        lines += ["", "## By question type", "", "| type | n | F1 | abstained | seconds |", "|---|---|---|---|---|"]
        for kind, m in kinds.items():
            abst = sum(1 for r in rows if r["kind"] == kind and r["abstained"]) / max(1, m["questions"])
            lines.append(f"| {kind} | {m['questions']} | {_fmt(m.get('answer_f1'))} | {abst:.2f} | {_fmt(m.get('seconds_per_question'))} |")
    if metrics.get("gate_failures"):
        lines += ["", "## Gate failures", ""] + [f"- {f}" for f in metrics["gate_failures"]]
    wrong = [r for r in rows if (r["answerable"] and (r.get("f1") or 0) < 0.5) or (not r["answerable"] and not r["abstained"])]
    if wrong:
        lines += ["", "## Questions to look at", "", "| id | question | expected | got |", "|---|---|---|---|"]
        for r in wrong[:25]:
            expected = "(abstain)" if not r["answerable"] else "; ".join(r["answers"])[:60]
            got = r["prediction"].replace("\n", " ").replace("|", "/")[:100]
            lines.append(f"| {r['id']} | {r['question'].replace('|', '/')[:80]} | {expected} | {got} |")
    return "\n".join(lines) + "\n"


def _bars(title: str, values: dict[str, float], width: int = 420) -> str:
    """A horizontal bar chart (values in 0..1) as inline SVG."""
    rowh, pad = 22, 160
    h = rowh * len(values) + 30
    parts = [f'<svg width="{width + pad + 60}" height="{h}" role="img" aria-label="{html.escape(title)}">',
             f'<text x="0" y="14" font-weight="bold">{html.escape(title)}</text>']
    for i, (label, v) in enumerate(values.items()):
        y = 24 + i * rowh
        w = max(0.0, min(1.0, v or 0.0)) * width
        parts.append(f'<text x="0" y="{y + 14}" font-size="12">{html.escape(label)}</text>')
        parts.append(f'<rect x="{pad}" y="{y + 2}" width="{w:.1f}" height="{rowh - 6}" fill="#4a7bd0"/>')
        parts.append(f'<text x="{pad + w + 4:.1f}" y="{y + 14}" font-size="12">{_fmt(v)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _histogram(title: str, values: Sequence[float], bins: int = 10, width: int = 420, height: int = 120) -> str:
    """A histogram of values in 0..1 as inline SVG."""
    counts = [0] * bins
    for v in values:
        counts[min(bins - 1, max(0, int(v * bins)))] += 1
    top = max(counts) or 1
    bw = width / bins
    parts = [f'<svg width="{width + 20}" height="{height + 40}" role="img" aria-label="{html.escape(title)}">',
             f'<text x="0" y="14" font-weight="bold">{html.escape(title)}</text>']
    for i, c in enumerate(counts):
        h = (c / top) * height
        parts.append(f'<rect x="{i * bw:.1f}" y="{20 + height - h:.1f}" width="{bw - 2:.1f}" height="{h:.1f}" fill="#d08a4a"/>')
        parts.append(f'<text x="{i * bw + 2:.1f}" y="{height + 34}" font-size="10">{i / bins:.1f}</text>')
    parts.append("</svg>")
    return "".join(parts)


def html_report(metrics: dict, rows: Sequence[dict]) -> str:
    spec = metrics.get("spec", {})
    headline = {m: metrics[m] for m in HEADLINE if isinstance(metrics.get(m), float) and m != "seconds_per_question"}
    body = [f"<h1>Evaluation: {html.escape(str(spec.get('name', '')))}</h1>",
            f"<p>{metrics['questions']} questions; backend {html.escape(str(spec.get('backend', '')))}</p>",
            _bars("Metrics", headline)]
    kinds = metrics.get("by_kind", {})
    if len(kinds) > 1:
        body.append(_bars("Answer F1 by question type", {k: m.get("answer_f1") or 0.0 for k, m in kinds.items()}))
    f1s = [r["f1"] for r in rows if r.get("f1") is not None]
    if f1s:
        body.append(_histogram("Answer F1 distribution", f1s))
    grounded = [r["groundedness"] for r in rows if r.get("groundedness") is not None]
    if grounded:
        body.append(_histogram("Groundedness distribution", grounded))
    body.append("<h2>Questions</h2><table border=1 cellpadding=4><tr><th>id</th><th>type</th><th>question</th>"
                "<th>expected</th><th>answer</th><th>F1</th></tr>")
    for r in rows:
        expected = "(abstain)" if not r["answerable"] else "; ".join(r["answers"])
        body.append(f"<tr><td>{html.escape(r['id'])}</td><td>{html.escape(r['kind'])}</td>"
                    f"<td>{html.escape(r['question'])}</td><td>{html.escape(expected)}</td>"
                    f"<td>{html.escape(r['prediction'])}</td><td>{_fmt(r.get('f1'))}</td></tr>")
    body.append("</table>")
    body.append(f"<h2>metrics.json</h2><pre>{html.escape(json.dumps(metrics, indent=2))}</pre>")
    return ("<!doctype html><html><head><meta charset='utf-8'><title>Evaluation report</title>"
            "<style>body{font-family:sans-serif;max-width:1100px;margin:auto}td{vertical-align:top}</style></head><body>"
            + "\n".join(body) + "</body></html>")
