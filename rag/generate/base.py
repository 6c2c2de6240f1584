"""The ``Generator`` seam: what every decoder-LLM backend offers the rest of the engine.

A backend implements two primitives:

- :meth:`GeneratorBase.stream_chunks` — stream a chat completion as
  :class:`Chunk` objects (text deltas, then the finish reason and token usage);
- :meth:`GeneratorBase.first_token_logprobs` — the top log-probabilities of the
  first token the model would generate;

plus :meth:`~Generator.count_tokens` and :attr:`~Generator.context_window`.
:class:`GeneratorBase` builds the conveniences on them: :meth:`~Generator.stream`
(text only), :meth:`~Generator.generate` (a whole :class:`Generation` with timings)
and :meth:`~Generator.yes_no_logprob` (P(yes) for an LLM judge). Two primitives,
not one, because log-probabilities of the first token cannot be derived from a
text stream.

Example:
    >>> gen = make_generator(settings)                      # doctest: +SKIP
    >>> msgs = [ChatMessage(role="user", content="Hi!")]    # doctest: +SKIP
    >>> gen.generate(msgs, max_tokens=32).text              # doctest: +SKIP
"""

from __future__ import annotations

import math
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from typing import Literal, Protocol, runtime_checkable

from pydantic import BaseModel

Role = Literal["system", "user", "assistant"]

#: First-token spellings counted as "yes" / "no" by :func:`yes_probability` (compared
#: after stripping spaces and punctuation and lower-casing: " Yes", "YES", "yes," count).
YES_WORDS = frozenset({"yes"})
NO_WORDS = frozenset({"no"})

#: How many top log-probabilities :meth:`Generator.yes_no_logprob` asks for
#: (vLLM's default ``--max-logprobs`` is 20; OpenAI allows 20).
TOP_LOGPROBS = 20


class ChatMessage(BaseModel):
    """One chat turn. Example: ``ChatMessage(role="user", content="What is RAG?")``."""

    role: Role
    content: str


class Chunk(BaseModel):
    """One piece of a streamed completion.

    Text chunks carry ``text``; the last chunk usually carries ``finish_reason``
    (``"stop"`` or ``"length"``) and, when the backend knows them, token counts.
    """

    text: str = ""
    finish_reason: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None


class Generation(BaseModel):
    """A finished completion with its cost.

    Attributes:
        text: the generated text.
        prompt_tokens: tokens in the formatted prompt.
        completion_tokens: tokens generated.
        finish_reason: ``"stop"`` (end of turn or a stop string) or ``"length"`` (hit max_tokens).
        seconds: wall time of the whole call.
        time_to_first_token: seconds until the first non-empty text delta (None if none came).
    """

    text: str
    prompt_tokens: int
    completion_tokens: int
    finish_reason: str | None
    seconds: float
    time_to_first_token: float | None

    @property
    def tokens_per_second(self) -> float:
        """Generation speed after the first token (0.0 when it cannot be measured)."""
        if self.time_to_first_token is None or self.completion_tokens < 2:
            return 0.0
        decode = self.seconds - self.time_to_first_token
        return (self.completion_tokens - 1) / decode if decode > 0 else 0.0


Messages = Sequence[ChatMessage | dict]


@runtime_checkable
class Generator(Protocol):
    """A decoder LLM that answers chat messages. All methods are thread-safe."""

    @property
    def name(self) -> str:
        """The model's name, for logs and reports (GGUF file stem or served model id)."""
        ...

    @property
    def context_window(self) -> int:
        """Maximum prompt + completion tokens the model accepts."""
        ...

    def stream_chunks(
        self, messages: Messages, *, max_tokens: int, temperature: float = 0.0, stop: list[str] | None = None,
        avoid_first: Sequence[str] | None = None,
    ) -> Iterator[Chunk]:
        """Stream the completion as :class:`Chunk` objects (the essential method).

        ``avoid_first``: the reply must not start with any of these strings: the first
        token is the likeliest one that is not a prefix of one of them (see
        :func:`starts_avoided`), chosen greedily; the rest is generated as usual.
        """
        ...

    def stream(
        self, messages: Messages, *, max_tokens: int, temperature: float = 0.0, stop: list[str] | None = None,
        avoid_first: Sequence[str] | None = None,
    ) -> Iterator[str]:
        """Stream the completion's text deltas (never empty strings)."""
        ...

    def generate(
        self, messages: Messages, *, max_tokens: int, temperature: float = 0.0, stop: list[str] | None = None,
        avoid_first: Sequence[str] | None = None,
    ) -> Generation:
        """Run the completion to the end and return it with token counts and timings."""
        ...

    def count_tokens(self, text: str) -> int:
        """Tokens ``text`` takes in this model's vocabulary (no special tokens added)."""
        ...

    def first_token_logprobs(self, messages: Messages, *, top_k: int = TOP_LOGPROBS) -> dict[str, float]:
        """Map the ``top_k`` likeliest first tokens (as text) to their log-probabilities."""
        ...

    def yes_no_logprob(self, messages: Messages) -> float:
        """P(yes) in [0, 1] from the first generated token's top log-probabilities."""
        ...


def as_dicts(messages: Messages) -> list[dict[str, str]]:
    """Normalise messages (``ChatMessage`` or ``{"role", "content"}`` dicts) to plain dicts."""
    out = []
    for m in messages:
        msg = m if isinstance(m, ChatMessage) else ChatMessage.model_validate(m)
        out.append({"role": msg.role, "content": msg.content})
    return out


def yes_probability(top_logprobs: dict[str, float]) -> float:
    """P(yes | yes or no) from a first token's top log-probabilities.

    Sums the probabilities of every spelling of "yes" (``"yes"``, ``" Yes"``, ``"YES"``...)
    and of "no", then normalises between the two. When neither appears among the
    top tokens the model gave no verdict and the answer is 0.5.

    Example:
        >>> round(yes_probability({" Yes": math.log(0.6), "No": math.log(0.2), "The": -3.0}), 2)
        0.75
    """
    p_yes = p_no = 0.0
    for token, logprob in top_logprobs.items():
        word = token.strip().strip(".,;:!\"'*").lower()
        if word in YES_WORDS:
            p_yes += math.exp(logprob)
        elif word in NO_WORDS:
            p_no += math.exp(logprob)
    total = p_yes + p_no
    return 0.5 if total <= 0.0 else p_yes / total


def starts_avoided(piece: str, avoid: Sequence[str]) -> bool:
    """Whether a first token ``piece`` would start one of the ``avoid`` strings (or is empty/special).

    Example:
        >>> starts_avoided(" NOT", ["NOT FOUND"]), starts_avoided("No", ["NOT FOUND"])
        (True, False)
    """
    text = piece.strip()
    if not text or (text.startswith("<|") and text.endswith("|>")):
        return True  # an empty or end-of-turn first token is no answer either
    return any(a.startswith(text) for a in avoid)


def best_allowed(top_logprobs: dict[str, float], avoid: Sequence[str]) -> str | None:
    """The likeliest first token in ``top_logprobs`` that does not start an ``avoid`` string."""
    allowed = [(lp, t) for t, lp in top_logprobs.items() if not starts_avoided(t, avoid)]
    return max(allowed)[1] if allowed else None


class GeneratorBase(ABC):
    """Implements the :class:`Generator` conveniences on two primitives."""

    @property
    @abstractmethod
    def name(self) -> str:
        """The model's name, for logs and reports."""

    @property
    @abstractmethod
    def context_window(self) -> int:
        """Maximum prompt + completion tokens the model accepts."""

    @abstractmethod
    def stream_chunks(
        self, messages: Messages, *, max_tokens: int, temperature: float = 0.0, stop: list[str] | None = None,
        avoid_first: Sequence[str] | None = None,
    ) -> Iterator[Chunk]:
        """Stream the completion as :class:`Chunk` objects."""

    @abstractmethod
    def first_token_logprobs(self, messages: Messages, *, top_k: int = TOP_LOGPROBS) -> dict[str, float]:
        """Map the ``top_k`` likeliest first tokens (as text) to their log-probabilities."""

    @abstractmethod
    def count_tokens(self, text: str) -> int:
        """Tokens ``text`` takes in this model's vocabulary (no special tokens added)."""

    def stream(
        self, messages: Messages, *, max_tokens: int, temperature: float = 0.0, stop: list[str] | None = None,
        avoid_first: Sequence[str] | None = None,
    ) -> Iterator[str]:
        """Stream the completion's text deltas (never empty strings)."""
        for chunk in self.stream_chunks(messages, max_tokens=max_tokens, temperature=temperature, stop=stop,
                                        avoid_first=avoid_first):
            if chunk.text:
                yield chunk.text

    def generate(
        self, messages: Messages, *, max_tokens: int, temperature: float = 0.0, stop: list[str] | None = None,
        avoid_first: Sequence[str] | None = None,
    ) -> Generation:
        """Run the completion to the end and return it with token counts and timings."""
        start = time.perf_counter()
        first: float | None = None
        parts: list[str] = []
        finish: str | None = None
        prompt_tokens = completion_tokens = None
        for chunk in self.stream_chunks(messages, max_tokens=max_tokens, temperature=temperature, stop=stop,
                                        avoid_first=avoid_first):
            if chunk.text:
                if first is None:
                    first = time.perf_counter() - start
                parts.append(chunk.text)
            finish = chunk.finish_reason or finish
            prompt_tokens = chunk.prompt_tokens if chunk.prompt_tokens is not None else prompt_tokens
            completion_tokens = chunk.completion_tokens if chunk.completion_tokens is not None else completion_tokens
        text = "".join(parts)
        return Generation(
            text=text,
            prompt_tokens=prompt_tokens if prompt_tokens is not None else 0,
            completion_tokens=completion_tokens if completion_tokens is not None else self.count_tokens(text),
            finish_reason=finish,
            seconds=time.perf_counter() - start,
            time_to_first_token=first,
        )

    def yes_no_logprob(self, messages: Messages) -> float:
        """P(yes) in [0, 1] from the first generated token's top log-probabilities.

        The messages should ask a yes/no question ("Answer yes or no."); 0.5 means
        the model's likeliest first tokens were neither yes nor no.
        """
        return yes_probability(self.first_token_logprobs(messages, top_k=TOP_LOGPROBS))
