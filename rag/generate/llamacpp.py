"""In-process generation with llama.cpp (``llama-cpp-python``) from a GGUF file.

The model loads on first use, once. A llama.cpp context is not re-entrant, so one
lock serialises every call that touches it; a stream holds the lock until it is
exhausted or closed, so consume streams to the end (or ``close()`` them).

Identical requests give identical output, whatever came before them: greedy decoding
over a cache left by another prompt can differ in the last bits and so in the text. So
a prompt is always evaluated the same way, in two steps: its *anchor* (every message
but the last, e.g. the system prompt) from an empty KV cache, then the rest on top of
it. The anchor's cache is kept between calls, so a run of questions under the same
system prompt evaluates it once, not once per question (on two CPU cores the grounded
prompt's instructions take over a second each time). Two more reuses keep the
guarantee: :meth:`LlamaCppGenerator.first_token_logprobs` leaves its prompt evaluated,
and a stream of exactly that prompt right after it samples from those logits instead
of evaluating the prompt again.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from rag.errors import InvalidInputError, ModelUnavailableError, require

from .base import TOP_LOGPROBS, Chunk, GeneratorBase, Messages, as_dicts, starts_avoided

log = logging.getLogger(__name__)

#: ChatML, used when a GGUF carries no chat template (most instruct GGUFs do).
CHATML_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)


class LlamaCppGenerator(GeneratorBase):
    """A :class:`~rag.generate.base.Generator` running a GGUF model in this process.

    Args:
        model_path: the ``.gguf`` file, or a model name that ``resolver`` turns into one.
        n_ctx: context window in tokens; 0 uses the model's training context.
        n_threads: CPU threads for generation and prompt processing (default: all cores).
        n_batch: prompt tokens evaluated per batch.
        chat_template: a Jinja chat template overriding the one in the GGUF.
        resolver: called with ``model_path`` on first use to find the file (e.g. the model
            registry, which may fetch it); keeps construction free of I/O.
        **llama_kwargs: passed on to ``llama_cpp.Llama`` (e.g. ``n_gpu_layers``).

    Example:
        >>> gen = LlamaCppGenerator("SmolLM2-135M-Instruct.Q4_1.gguf", n_ctx=2048)  # doctest: +SKIP
        >>> gen.generate([{"role": "user", "content": "Hi"}], max_tokens=16).text  # doctest: +SKIP
    """

    def __init__(
        self,
        model_path: str | os.PathLike[str],
        *,
        n_ctx: int = 4096,
        n_threads: int | None = None,
        n_batch: int = 512,
        chat_template: str | None = None,
        resolver: Callable[[str], os.PathLike[str] | str] | None = None,
        **llama_kwargs: Any,
    ) -> None:
        self.model = os.fspath(model_path)
        self.model_path = Path(self.model).expanduser()
        self.resolver = resolver
        self.n_ctx = n_ctx
        self.n_threads = n_threads or os.cpu_count() or 1
        self.n_batch = n_batch
        self.chat_template = chat_template
        self.llama_kwargs = llama_kwargs
        self._llm: Any = None
        self._formatter: Any = None
        self._load_lock = threading.Lock()
        self._lock = threading.RLock()
        self._primed: list[int] | None = None  # the prompt first_token_logprobs left evaluated
        self._primed_logits: Any = None  # ... and its first-token logits
        self._anchor: list[int] | None = None  # the prompt prefix whose KV cache is kept (see _evaluate)
        self._anchors: dict[tuple[tuple[str, str], ...], list[int]] = {}  # messages[:-1] -> anchor tokens
        #: Prompt tokens taken from the kept cache by the last evaluation (0: evaluated whole).
        self.last_reused_tokens = 0

    def __repr__(self) -> str:
        return f"LlamaCppGenerator({str(self.model_path)!r}, n_ctx={self.n_ctx}, n_threads={self.n_threads})"

    # -- loading -------------------------------------------------------------

    @property
    def loaded(self) -> bool:
        """Whether the model is in memory."""
        return self._llm is not None

    def load(self) -> None:
        """Load the model now (otherwise the first call does it). Safe to call twice."""
        self._ensure_loaded()

    def _ensure_loaded(self) -> tuple[Any, Any]:
        if self._llm is None:
            with self._load_lock:
                if self._llm is None:
                    self._load()
        return self._llm, self._formatter

    def _load(self) -> None:
        llama_cpp = require("llama_cpp", "llamacpp")
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        if self.resolver is not None:
            self.model_path = _gguf_in(Path(self.resolver(self.model)).expanduser(), self.model)
        if not self.model_path.is_file():
            raise ModelUnavailableError(f"GGUF model file not found: {self.model_path}", path=str(self.model_path))
        log.info("loading %s (n_ctx=%s, threads=%s)", self.model_path, self.n_ctx, self.n_threads)
        try:
            llm = llama_cpp.Llama(
                model_path=str(self.model_path),
                n_ctx=self.n_ctx,
                n_threads=self.n_threads,
                n_threads_batch=self.n_threads,
                n_batch=self.n_batch,
                logits_all=False,  # True would keep n_ctx x n_vocab floats; the first token's logits suffice
                verbose=False,
                **self.llama_kwargs,
            )
        except ValueError as exc:  # llama-cpp-python reports an unreadable file as ValueError
            raise ModelUnavailableError(f"cannot load GGUF model {self.model_path}: {exc}") from exc

        template = self.chat_template or llm.metadata.get("tokenizer.chat_template")
        if not template:
            log.warning("%s has no chat template; using ChatML", self.model_path.name)
            template = CHATML_TEMPLATE
        eos_id, bos_id = llm.token_eos(), llm.token_bos()
        self._formatter = Jinja2ChatFormatter(
            template=template,
            eos_token=_piece(llm, eos_id),
            bos_token=_piece(llm, bos_id),
            stop_token_ids=[eos_id],
        )
        self._llm = llm

    # -- the Generator primitives -------------------------------------------

    @property
    def name(self) -> str:
        """The GGUF file name without its extension (the model name before it is resolved)."""
        return self.model_path.stem if self.model_path.suffix == ".gguf" else self.model

    @property
    def context_window(self) -> int:
        """Maximum prompt + completion tokens (loads the model when ``n_ctx`` is 0)."""
        if self._llm is None and self.n_ctx > 0:
            return self.n_ctx
        return _window(self._ensure_loaded()[0])

    def count_tokens(self, text: str) -> int:
        """Tokens ``text`` takes, without BOS or special-token parsing."""
        llm, _ = self._ensure_loaded()
        return len(llm.tokenize(text.encode("utf-8"), add_bos=False, special=False))

    def _tokens(self, messages: list[dict[str, Any]]) -> tuple[list[int], Any]:
        llm, formatter = self._ensure_loaded()
        result = formatter(messages=messages)
        return llm.tokenize(result.prompt.encode("utf-8"), add_bos=not result.added_special, special=True), result

    def _prompt(self, messages: Messages) -> tuple[list[int], Any]:
        tokens, result = self._tokens(as_dicts(messages))
        window = _window(self._llm)
        if len(tokens) >= window:
            raise InvalidInputError(
                f"the prompt has {len(tokens)} tokens; the model's context window is {window}",
                prompt_tokens=len(tokens),
                context_window=window,
            )
        return tokens, result

    def _anchor_of(self, messages: Messages, tokens: list[int]) -> list[int]:
        """The prefix of ``tokens`` that only the messages before the last one decide.

        Rendered from those messages alone, so it is the same for every question asked
        under the same system prompt, whatever the question's first words. Empty for a
        single message, or when it is not a prefix (a template that rewrites earlier turns).
        """
        dicts = as_dicts(messages)
        if len(dicts) < 2:
            return []
        key = tuple((str(m.get("role")), str(m.get("content"))) for m in dicts[:-1])
        head = self._anchors.get(key)
        if head is None:
            try:
                rendered, _ = self._tokens(dicts[:-1])
            except Exception:  # noqa: BLE001 - a template that refuses a conversation cut short
                rendered = []
            head = self._anchors[key] = rendered[: type(self._llm).longest_token_prefix(rendered, tokens)]
            while len(self._anchors) > 8:  # a few system prompts in turn; forget the oldest
                self._anchors.pop(next(iter(self._anchors)))
        return head if tokens[: len(head)] == head else []

    def _evaluate(self, llm: Any, messages: Messages, tokens: list[int]) -> Any:
        """Evaluate the prompt ``tokens`` of ``messages`` (its anchor from an empty cache, then
        the rest) and return the last position's logits. The anchor's cache is reused when it
        is the one kept."""
        import numpy as np

        anchor = self._anchor_of(messages, tokens)
        n = len(anchor) if len(anchor) < len(tokens) else 0  # at least one token to evaluate: logits
        kept = (n > 0 and self._anchor == anchor and llm.n_tokens >= n
                and np.array_equal(llm.input_ids[:n], anchor) and llm._ctx.kv_cache_seq_rm(-1, n, -1))
        if kept:
            llm.n_tokens = n  # eval() drops every cached position from here on
        else:
            llm.reset()
            self._anchor = None
            if n:
                llm.eval(anchor)
                self._anchor = list(anchor)
        self.last_reused_tokens = n if kept else 0
        llm.eval(tokens[n:])
        return self._last_logits(llm)

    def stream_chunks(
        self, messages: Messages, *, max_tokens: int, temperature: float = 0.0, stop: list[str] | None = None,
        avoid_first: Sequence[str] | None = None,
    ) -> Iterator[Chunk]:
        """Stream text deltas, then one chunk with the finish reason and token counts."""
        tokens, fmt = self._prompt(messages)
        stops = list(stop or []) + _as_list(fmt.stop)
        llm = self._llm
        with self._lock:
            logits = self._primed_logits if self._primed == tokens else None
            if logits is None:
                # Evaluated here, so the completion below finds the prompt cached with its
                # logits current and samples from them.
                logits = self._evaluate(llm, messages, tokens)
            self._primed = self._primed_logits = None
            finish: str | None = None
            parts: list[str] = []
            prompt, budget = tokens, min(max_tokens, _window(llm) - len(tokens))
            if avoid_first and budget > 0:
                lead = self._first_allowed(llm, logits, avoid_first)
                if lead is not None:
                    # Generation goes on after the chosen token; the prompt stays cached.
                    prompt, budget = tokens + [lead], budget - 1
                    parts.append(_piece(llm, lead))
                    yield Chunk(text=parts[0])
            if budget > 0:
                for out in llm.create_completion(
                    prompt=prompt,
                    max_tokens=budget,
                    temperature=temperature,
                    stop=stops or None,
                    stopping_criteria=fmt.stopping_criteria,
                    stream=True,
                ):
                    choice = out["choices"][0]
                    if choice["text"]:
                        parts.append(choice["text"])
                        yield Chunk(text=choice["text"])
                    finish = choice.get("finish_reason") or finish
            else:
                finish = "length"
            # Streams carry no usage; re-tokenising the text counts what was generated.
            completion = len(llm.tokenize("".join(parts).encode("utf-8"), add_bos=False, special=False))
        yield Chunk(finish_reason=finish, prompt_tokens=len(tokens), completion_tokens=completion)

    @staticmethod
    def _last_logits(llm: Any) -> Any:
        import numpy as np
        from llama_cpp import llama_cpp as capi

        logits = np.ctypeslib.as_array(capi.llama_get_logits_ith(llm.ctx, -1), shape=(llm.n_vocab(),))
        return logits.astype(np.float64)  # copy out before the context is reused

    @staticmethod
    def _first_allowed(llm: Any, logits: Any, avoid: Sequence[str], look: int = 64) -> int | None:
        """The likeliest token among the top ``look`` that does not start an avoided string."""
        import numpy as np

        top = np.argpartition(-logits, look)[:look]
        for token_id in top[np.argsort(-logits[top])]:
            if not starts_avoided(_piece(llm, int(token_id)), avoid):
                return int(token_id)
        return None

    def first_token_logprobs(self, messages: Messages, *, top_k: int = TOP_LOGPROBS) -> dict[str, float]:
        """Top ``top_k`` first tokens and their log-probabilities, from the raw logits."""
        tokens, _ = self._prompt(messages)
        llm = self._llm
        with self._lock:
            self._primed = self._primed_logits = None
            logits = self._evaluate(llm, messages, tokens)
            self._primed, self._primed_logits = list(tokens), logits
            return top_logprobs(llm, logits, top_k)


def top_logprobs(llm: Any, logits: Any, top_k: int = TOP_LOGPROBS) -> dict[str, float]:
    """The ``top_k`` likeliest next tokens of ``logits`` as text, with their log-probabilities
    (two token ids that print the same count as one, their probabilities added up)."""
    import numpy as np

    top = np.argpartition(-logits, min(top_k, logits.size - 1))[:top_k]
    logprobs = logits - np.logaddexp.reduce(logits)
    out: dict[str, float] = {}
    for token_id in top:
        piece, lp = _piece(llm, int(token_id)), float(logprobs[token_id])
        out[piece] = float(np.logaddexp(out[piece], lp)) if piece in out else lp
    return out


def _window(llm: Any) -> int:
    """The usable context: llama.cpp rounds n_ctx up (to 256) but llama-cpp-python
    sizes its token buffer to the n_ctx asked for, so the smaller one is the limit."""
    return min(int(llm.n_ctx()), len(llm.input_ids))


def _piece(llm: Any, token_id: int) -> str:
    """The text of one token ('' for none), special tokens spelled out."""
    if token_id < 0:
        return ""
    return llm.detokenize([token_id], special=True).decode("utf-8", errors="replace")


def _gguf_in(path: Path, model: str) -> Path:
    """The GGUF file itself, or the single ``*.gguf`` in a folder."""
    if path.is_dir():
        found = sorted(path.glob("*.gguf"))
        if len(found) != 1:
            raise ModelUnavailableError(f"expected one .gguf file in {path} for model {model!r}, found {len(found)}")
        return found[0]
    if not path.is_file():
        raise ModelUnavailableError(
            f"model {model!r} is neither a local GGUF file nor a packaged model (see `rag models list`)",
            model=model,
        )
    return path


def _as_list(stop: str | list[str] | None) -> list[str]:
    if stop is None:
        return []
    return [stop] if isinstance(stop, str) else list(stop)
