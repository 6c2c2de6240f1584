"""The collection picker in the sidebar, shared by the Ask and Documents pages."""

from __future__ import annotations

import streamlit as st

from rag.client import RAGClient
from rag.schemas import CollectionInfo
from ui import guard, state


def collections(client: RAGClient) -> list[CollectionInfo]:
    """The service's collections; stops the page with an error (and Retry) when it is down."""
    return guard.call("list the collections", client.list_collections, stop=True)


def pick_collection(infos: list[CollectionInfo], *, where: str) -> str | None:
    """A sidebar select box of collections; the choice is shared across pages.

    ``where`` keeps the widget key distinct per page (Streamlit forgets the state of a
    widget that a rerun does not draw, so the choice itself lives in :mod:`ui.state`).
    """
    names = [c.name for c in infos]
    if not names:
        state.choose_collection(None)
        st.sidebar.info("No collection yet.")
        return None
    key = f"pick-collection-{where}"
    if st.session_state.get(key) not in names:
        current = state.collection()
        st.session_state[key] = current if current in names else names[0]
    chosen = st.sidebar.selectbox("Collection", names, key=key)
    state.choose_collection(chosen)
    return chosen


def select(name: str | None) -> None:
    """Make ``name`` the chosen collection on every page (after creating or deleting one)."""
    state.choose_collection(name)
    for key in [k for k in st.session_state if str(k).startswith("pick-collection-")]:
        del st.session_state[key]
