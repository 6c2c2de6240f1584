"""Token counting with a Hugging Face tokenizer, shared by the encoder and the served generator."""

from __future__ import annotations

from typing import Any, Callable


def token_counter(tokenizer: Any) -> Callable[[str], int]:
    """A fast, thread-safe token counter (no special tokens) for a Hugging Face tokenizer.

    It uses the Rust tokenizer directly (~5x less overhead per call), as a copy without
    the padding and truncation that model folders often configure (with them, every
    text would count as the padded length), and which no other caller can reconfigure
    while threads count with it.

    Example:
        >>> count = token_counter(AutoTokenizer.from_pretrained(folder))  # doctest: +SKIP
        >>> count("Hello world")                                          # doctest: +SKIP
        2
    """
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is None:
        return lambda text: len(tokenizer.encode(text, add_special_tokens=False))
    from tokenizers import Tokenizer

    fast = Tokenizer.from_str(backend.to_str())
    fast.no_padding()
    fast.no_truncation()
    return lambda text: len(fast.encode(text, add_special_tokens=False).ids)
