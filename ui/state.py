"""Where the UI finds the API, and what it keeps between reruns (``st.session_state``).

The UI reaches the service only through :class:`rag.client.RAGClient`; the URL and key
come from the environment that ``rag ui`` sets.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import streamlit as st

from rag.client import RAGClient

#: Environment variables read by the UI (``rag ui`` sets them).
URL_ENV = "RAG_UI_API_URL"
KEY_ENV = "RAG_UI_API_KEY"
TIMEOUT_ENV = "RAG_UI_TIMEOUT"
EVAL_DIR_ENV = "RAG_UI_EVAL_DIR"
DEFAULT_URL = "http://127.0.0.1:8000"


@dataclass(frozen=True)
class UIConfig:
    """The API the UI talks to."""

    api_url: str
    api_key: str | None
    timeout: float
    eval_dir: Path


def config() -> UIConfig:
    """The configuration from the environment (read on every rerun: it is cheap)."""
    try:
        timeout = float(os.environ.get(TIMEOUT_ENV, "300"))
    except ValueError:
        timeout = 300.0
    return UIConfig(
        api_url=os.environ.get(URL_ENV, DEFAULT_URL).strip() or DEFAULT_URL,
        # The server's own RAG_API_KEY, when the UI runs beside it, saves passing it twice.
        api_key=os.environ.get(KEY_ENV) or os.environ.get("RAG_API_KEY") or None,
        timeout=timeout,
        eval_dir=Path(os.environ.get(EVAL_DIR_ENV) or "eval-runs"),
    )


def client() -> RAGClient:
    """This session's SDK client (one per browser session, rebuilt if the config changes).

    Few retries: a person is waiting, and the page offers a Retry button instead.
    """
    cfg = config()
    key = (cfg.api_url, cfg.api_key, cfg.timeout)
    held = st.session_state.get("_client")
    if held is None or held[0] != key:
        if held is not None:
            held[1].close()
        st.session_state["_client"] = (key, RAGClient(cfg.api_url, api_key=cfg.api_key, timeout=cfg.timeout,
                                                      retries=1, backoff=0.3))
    return st.session_state["_client"][1]


def history(collection: str) -> list[dict]:
    """The conversation of one collection: ``{"question", "response" (dict), "error"}`` items."""
    chats = st.session_state.setdefault("history", {})
    return chats.setdefault(collection, [])


def collection() -> str | None:
    """The collection chosen in the sidebar (shared by the pages)."""
    return st.session_state.get("collection")


def choose_collection(name: str | None) -> None:
    st.session_state["collection"] = name
