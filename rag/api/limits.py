"""Request limits that depend on the settings: question length and filter list lengths.

The schemas carry hard upper bounds; these are the server's own, usually tighter,
``max_question_chars`` and ``max_filter_items``. Each breach is a 422 ``invalid_input``.
"""

from __future__ import annotations

from rag.api.errors import LimitExceededError


def check_question(question: str, settings, field: str = "query") -> None:
    """Refuse a question longer than ``max_question_chars``."""
    if len(question) > settings.max_question_chars:
        raise LimitExceededError(f"{field}: the question is {len(question)} characters long; the limit is "
                                f"{settings.max_question_chars} (max_question_chars)")


def check_filters(filters, settings) -> None:
    """Refuse filter lists longer than ``max_filter_items``."""
    if filters is None:
        return
    for field in ("doc_ids", "tags"):
        values = getattr(filters, field, None) or []
        if len(values) > settings.max_filter_items:
            raise LimitExceededError(f"filters.{field}: {len(values)} items; the limit is "
                                    f"{settings.max_filter_items} (max_filter_items)")


def check_request(body, settings) -> None:
    """Both checks for a retrieve or ask request."""
    check_question(body.query, settings)
    check_filters(body.filters, settings)
