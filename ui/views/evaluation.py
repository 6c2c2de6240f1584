"""The Evaluation page: metrics, plots and per-question results of ``rag eval run`` folders."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from ui import evalruns, state


def _fmt(value) -> str:
    if value is None:
        return "—"
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def show_metrics(run: evalruns.Run) -> None:
    m = run.metrics
    spec = m.get("spec") or {}
    st.caption(" · ".join(f"{k}: {v}" for k, v in spec.items() if v is not None and not isinstance(v, dict))
               + f" · {m.get('questions', len(run.rows))} questions")
    failures = m.get("gate_failures") or []
    if failures:
        st.error("Quality gates failed: " + "; ".join(map(str, failures)))
    elif "gate_failures" in m:
        st.success("All quality gates passed.")
    shown = [(k, label, hb) for k, label, hb in evalruns.HEADLINE if m.get(k) is not None]
    for start in range(0, len(shown), 4):
        cols = st.columns(4)
        for col, (key, label, higher_better) in zip(cols, shown[start:start + 4]):
            col.metric(label, _fmt(m.get(key)), help=f"{key} ({'higher' if higher_better else 'lower'} is better)",
                       border=True)
    if run.bad_lines:
        st.warning(f"{run.bad_lines} lines of results.jsonl could not be read.")


def show_plots(run: evalruns.Run) -> None:
    left, right = st.columns(2)
    with left:
        names = evalruns.kind_metric_names(run.metrics)
        if names:
            metric = st.selectbox("Metric per question kind", names, key="eval-kind-metric")
            values = evalruns.by_kind(run.metrics, metric)
            st.bar_chart({"kind": list(values), metric: list(values.values())}, x="kind", y=metric, height=260,
                         horizontal=True)
        else:
            st.info("This run has no per-kind metrics.")
    with right:
        hist = evalruns.f1_histogram(run.rows)
        st.markdown("**Per-question F1** (answerable questions)")
        if sum(hist["questions"]):
            st.bar_chart(hist, x="F1", y="questions", height=260, sort=False)
        else:
            st.info("No per-question F1 in this run.")


def show_rows(run: evalruns.Run) -> None:
    st.subheader("Questions")
    which = st.segmented_control("Show", evalruns.FILTERS, default="all", key="eval-filter") or "all"
    rows = evalruns.filter_rows(run.rows, which)
    st.caption(f"{len(rows)} of {len(run.rows)} questions")
    st.dataframe(evalruns.table(rows), hide_index=True, height=360,
                 column_config={"question": st.column_config.TextColumn(width="large"),
                                "prediction": st.column_config.TextColumn(width="large"),
                                "f1": st.column_config.NumberColumn(format="%.2f"),
                                "unsupported": st.column_config.NumberColumn(format="%.2f")})


def show_comparison(run: evalruns.Run, others: list[Path]) -> None:
    st.subheader("Compare with another run")
    if not others:
        st.info("Only one run in this folder.")
        return
    other = st.selectbox("Run B (compared with A, the run above)", others, format_func=lambda p: p.name,
                         key="eval-compare")
    try:
        b = evalruns.load_run(other)
    except ValueError as exc:
        st.error(str(exc))
        return
    changed = evalruns.changed_questions(run, b)
    st.caption(f"A = {run.name}, B = {b.name}: {changed['shared']} shared questions, "
               f"{changed['fixed']} fixed and {changed['broken']} broken in B.")
    deltas = evalruns.compare(run, b)
    st.dataframe(deltas, hide_index=True,
                 column_config={"A": st.column_config.NumberColumn(format="%.4f"),
                                "B": st.column_config.NumberColumn(format="%.4f"),
                                "delta": st.column_config.NumberColumn(format="%+.4f")})


def page() -> None:
    """Draw the Evaluation page."""
    st.title("Evaluation runs")
    folder = Path(st.text_input("Runs folder", str(state.config().eval_dir), key="eval-dir",
                                help="A folder of `rag eval run` outputs (or one run folder)."))
    runs = evalruns.find_runs(folder)
    if not runs:
        st.info(f"No evaluation runs in `{folder}`: a run folder holds metrics.json and results.jsonl "
                "(write one with `rag eval run`).")
        return
    chosen = st.selectbox("Run (A)", runs, format_func=lambda p: p.name, key="eval-run")
    try:
        run = evalruns.load_run(chosen)
    except ValueError as exc:
        st.error(str(exc))
        return
    show_metrics(run)
    show_plots(run)
    show_rows(run)
    show_comparison(run, [p for p in runs if p != chosen])
