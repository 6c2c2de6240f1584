"""The Ask page: a chat over one collection, with streamed answers and their sources."""

from __future__ import annotations

import streamlit as st

from rag.client import RAGClient, RAGClientError
from rag.schemas import AskResponse, SearchFilters
from ui import guard, picker, render, state

MODES = ("hybrid", "dense", "bm25")
MODE_HELP = "hybrid: meaning and keywords combined; dense: meaning only; bm25: keywords only."


def options() -> dict:
    """Retrieval options from the sidebar (k, mode, filters)."""
    st.sidebar.subheader("Retrieval")
    k = st.sidebar.slider("Passages (k)", 1, 20, 5, key="ask-k")
    mode = st.sidebar.radio("Mode", MODES, horizontal=True, key="ask-mode", help=MODE_HELP)
    with st.sidebar.expander("Filters"):
        source = st.text_input("Source pattern", key="ask-source", placeholder="*.pdf",
                               help="Shell-style pattern on the document's source name.").strip()
        tags = render.parse_tags(st.text_input("Tags", key="ask-tags", placeholder="finance, 2023",
                                               help="Comma-separated; documents with any of these tags."))
    with st.sidebar.expander("Answer"):
        max_tokens = st.number_input("Longest answer (tokens)", 16, 4096, 384, step=16, key="ask-max-tokens")
    opts: dict = {"k": k, "mode": mode, "max_tokens": int(max_tokens)}
    if source or tags:
        opts["filters"] = SearchFilters(source=source or None, tags=tags)
    return opts


def show_response(response: AskResponse) -> None:
    """An answer (or the 'not found' state), its sources and its timings."""
    if not response.answerable:
        st.warning(render.abstention_markdown(response), icon=":material/search_off:")
    else:
        st.markdown(render.answer_html(response), unsafe_allow_html=True)
        summary = render.support_summary(response)
        if summary:
            st.caption(summary)
        if response.citations:
            st.markdown('<div class="rag-sources-title">Sources</div>', unsafe_allow_html=True)
            for c in response.citations:
                with st.expander(render.citation_label(c)):
                    st.markdown(render.source_line(c) + render.citation_html(c, response.passages),
                                unsafe_allow_html=True)
    timings = render.timings_text(response.timings)
    if timings:
        st.markdown(f'<div class="rag-timings">Timings: {render.esc(timings)}</div>', unsafe_allow_html=True)


def stream_answer(client: RAGClient, collection: str, question: str, opts: dict) -> AskResponse:
    """Stream the answer into the page token by token; returns the final response."""
    status = st.empty()
    status.caption("Searching your documents…")
    draft = st.empty()
    text = ""
    try:
        for event in client.ask_stream(collection, question, **opts):
            if event.event == "passages":
                status.caption(f"Found {len(event.passages or [])} passages — writing the answer…")
            elif event.event == "token" and event.delta:
                text += event.delta
                draft.markdown(f'<div class="rag-answer">{render.esc(text)} ▌</div>', unsafe_allow_html=True)
            elif event.event == "done" and event.response is not None:
                return event.response
    finally:
        status.empty()
        draft.empty()
    raise RAGClientError("the answer stream ended before the answer was complete")


def show_history(collection: str) -> None:
    for turn in state.history(collection):
        with st.chat_message("user"):
            st.markdown(render.esc(turn["question"]), unsafe_allow_html=True)
        with st.chat_message("assistant"):
            show_response(turn["response"])


def show_failure(failed: dict) -> None:
    """The last question that could not be answered, with a Retry button that asks it again."""
    with st.chat_message("user"):
        st.markdown(render.esc(failed["question"]), unsafe_allow_html=True)
    with st.chat_message("assistant"):
        st.error(f"**Could not answer.** {failed['error']}", icon=":material/error:")
        if st.button("Retry", key="retry-ask", icon=":material/refresh:"):
            st.session_state["ask-pending"] = failed["question"]
            st.session_state.pop("ask-failed", None)
            st.rerun()


def page() -> None:
    """Draw the Ask page."""
    client = state.client()
    st.title("Ask your documents")
    infos = picker.collections(client)
    collection = picker.pick_collection(infos, where="ask")
    opts = options()
    if collection is None:
        st.info("There is no collection yet: create one and upload documents on the **Documents** page.")
        return
    if st.sidebar.button("Clear conversation", key="ask-clear"):
        state.history(collection).clear()
        st.session_state.pop("ask-failed", None)
    show_history(collection)
    question = st.chat_input(f"Ask a question about “{collection}”") or st.session_state.pop("ask-pending", None)
    failed = st.session_state.get("ask-failed")
    if not question:
        if failed and failed["collection"] == collection:
            show_failure(failed)
        return
    st.session_state.pop("ask-failed", None)
    with st.chat_message("user"):
        st.markdown(render.esc(question), unsafe_allow_html=True)
    with st.chat_message("assistant"):
        try:
            response = stream_answer(client, collection, question, opts)
        except Exception as exc:  # noqa: BLE001 - shown as a message with a Retry button
            st.session_state["ask-failed"] = {"question": question, "collection": collection,
                                              "error": guard.message(exc)}
            st.rerun()
        state.history(collection).append({"question": question, "response": response})
        show_response(response)
