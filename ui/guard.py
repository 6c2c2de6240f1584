"""Calls to the service that never put a traceback on the page.

A failed call shows the SDK's one-line message in ``st.error`` with a Retry button
(which reruns the page); the caller gets :data:`FAILED` back and decides what to do.
"""

from __future__ import annotations

from typing import Any, Callable

import streamlit as st

from rag.client import ConnectionFailed, RAGClientError, RequestTimeout


class _Failed:
    """The result of a call that failed (its error is already on the page)."""

    def __bool__(self) -> bool:
        return False

    def __repr__(self) -> str:
        return "FAILED"


FAILED: Any = _Failed()


def message(exc: BaseException) -> str:
    """What to tell a person about ``exc`` (the SDK's message, plus a hint)."""
    if isinstance(exc, ConnectionFailed):
        return f"The service is not reachable: {exc.message}. Is `rag serve` running?"
    if isinstance(exc, RequestTimeout):
        return f"The service is too slow to answer: {exc.message}."
    if isinstance(exc, RAGClientError):
        return exc.message
    return f"Unexpected error ({type(exc).__name__}): {exc}"


def show_error(what: str, exc: BaseException, *, key: str) -> None:
    """``st.error`` with the message and a Retry button that reruns the page."""
    st.error(f"**Could not {what}.** {message(exc)}", icon=":material/error:")
    if st.button("Retry", key=f"retry-{key}", icon=":material/refresh:"):
        st.rerun()


def call(what: str, fn: Callable[..., Any], *args: Any, key: str | None = None, stop: bool = False,
         **kwargs: Any) -> Any:
    """``fn(*args, **kwargs)``, or :data:`FAILED` after showing the error.

    Args:
        what: the action, completing "Could not ...", e.g. ``"list the collections"``.
        key: makes the Retry button's key unique when one page shows several errors.
        stop: stop the page after the error (for data the page cannot work without).
    """
    try:
        return fn(*args, **kwargs)
    except Exception as exc:  # noqa: BLE001 - the page shows every failure as a message
        show_error(what, exc, key=key or what)
        if stop:
            st.stop()
        return FAILED
