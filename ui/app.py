"""The groundrag web UI (Streamlit): ``rag ui``, or ``streamlit run ui/app.py``.

It talks to the service only through the SDK (:mod:`rag.client`); the API's URL and
key come from ``RAG_UI_API_URL`` and ``RAG_UI_API_KEY``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import streamlit as st

# `streamlit run ui/app.py` puts ui/ on sys.path, not the checkout: make `ui` importable
# when the project is not installed.
_ROOT = str(Path(__file__).resolve().parents[1])
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

from ui import render, state  # noqa: E402
from ui.views import ask, documents, evaluation  # noqa: E402


def main() -> None:
    st.set_page_config(page_title="groundrag", page_icon=":material/menu_book:", layout="wide")
    st.markdown(render.css(), unsafe_allow_html=True)
    pages = [
        st.Page(ask.page, title="Ask", icon=":material/chat:", url_path="ask", default=True),
        st.Page(documents.page, title="Documents", icon=":material/description:", url_path="documents"),
        st.Page(evaluation.page, title="Evaluation", icon=":material/monitoring:", url_path="evaluation"),
    ]
    current = st.navigation(pages)
    st.sidebar.caption(f"API: {state.config().api_url}")
    current.run()


main()
