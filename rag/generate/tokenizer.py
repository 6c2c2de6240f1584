"""A served model's tokenizer, loaded locally so that prompt tokens are counted in-process.

Counting the passages of one prompt through the server's ``/tokenize`` costs k+2 HTTP
round trips per question; a local tokenizer costs microseconds. It is loaded offline
only (a local folder or the Hugging Face cache): nothing downloads at ask time.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable

log = logging.getLogger(__name__)


def local_counter(candidates: Iterable[str]) -> tuple[Callable[[str], int], str] | None:
    """The token counter of the first candidate whose tokenizer loads offline, and its name.

    Args:
        candidates: Hugging Face ids or local folders, in order of preference
            (empty strings are skipped).

    Returns:
        ``(count, name)``, or None when ``transformers`` is missing or no candidate loads.
    """
    names = list(dict.fromkeys(c for c in candidates if c))
    try:
        from transformers import AutoTokenizer
        from transformers.utils import logging as hf_logging
    except ImportError:
        log.info("transformers is not installed: prompt tokens are counted by the server")
        return None
    from rag.models.tokens import token_counter

    hf_logging.set_verbosity_error()
    failures = []
    for name in names:
        try:
            tokenizer = AutoTokenizer.from_pretrained(os.path.expanduser(name), local_files_only=True)
            return token_counter(tokenizer), name
        except Exception as exc:  # noqa: BLE001 - OSError, ValueError...: any reason means "not here"
            failures.append(f"{name}: {type(exc).__name__}")
    log.info("no tokenizer found offline (%s): prompt tokens are counted by the server",
             "; ".join(failures) or "no name to try")
    return None
