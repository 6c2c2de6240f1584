"""The query service: retrieve → prompt → generate → cite, with abstention.

:class:`RAGService` is the Python API; the CLI and the HTTP server are thin shells
over it. Models load lazily, once; collections stay open between requests and pick
up other processes' commits by themselves.
"""

from __future__ import annotations

import time
from typing import Iterator

from rag.answer.answerability import answerable_score
from rag.answer.citations import ABSTENTION_MESSAGE, drop_invalid_markers, is_abstention, resolve_citations
from rag.answer.context import assemble, cut_off
from rag.answer.evidence import missing_numbers
from rag.answer.prompt import NOT_FOUND, build_prompt
from rag.errors import InvalidInputError
from rag.schemas import AskRequest, AskResponse, ChunkHit, RetrieveRequest, SearchResponse, StreamEvent
from rag.store.sharded import ShardedCollection
from rag.verify.repoint import cite_question_numbers, repoint_markers

#: Characters of streamed output held back until we know the model is not abstaining.
_ABSTAIN_PROBE = len(NOT_FOUND) + 2


class RAGService:
    """Answers questions about collections.

    Args:
        settings: the product :class:`rag.config.Settings`.
        embedder, generator, retriever, verifier: optional parts to use instead of
            the configured ones (tests, embedding in another program).

    Example:
        >>> svc = RAGService(get_settings())  # doctest: +SKIP
        >>> svc.ask("handbook", AskRequest(query="How many vacation days do I get?")).answer  # doctest: +SKIP
    """

    def __init__(self, settings, *, embedder=None, generator=None, retriever=None, verifier=None) -> None:
        from rag.store import CollectionManager
        from rag.store.handles import HandleCache

        self.settings = settings
        self.collections = CollectionManager(settings)
        self.handles = HandleCache(self.collections, check=self._check_encoder)
        self._embedder = embedder
        self._generator = generator
        self._retriever = retriever
        self._verifier = verifier

    # ------------------------------------------------------------------ parts (lazy)
    @property
    def embedder(self):
        if self._embedder is None:
            from rag.embed import make_embedder

            self._embedder = make_embedder(self.settings)
        return self._embedder

    @property
    def generator(self):
        if self._generator is None:
            from rag.generate import make_generator

            self._generator = make_generator(self.settings)
        return self._generator

    @property
    def retriever(self):
        if self._retriever is None:
            from rag.retrieve.hybrid import HybridRetriever

            reranker = None
            if self.settings.rerank_model:
                from rag.retrieve.rerank import CrossEncoderReranker

                reranker = CrossEncoderReranker(self.settings.rerank_model)
            self._retriever = HybridRetriever(self.embedder, reranker, fusion=self.settings.fusion,
                                              dense_weight=self.settings.fusion_dense_weight)
        return self._retriever

    @property
    def verifier(self):
        """The answer-time verifier (``RAG_VERIFIER``), or None when it is ``none``."""
        if self._verifier is None and self.settings.verifier != "none":
            from rag.verify import make_verifier

            needs_model = self.settings.verifier == "judge" or self.settings.verifier_judge
            self._verifier = make_verifier(self.settings, self.generator if needs_model else None)
        return self._verifier

    def warm_up(self, *, generator: bool = True) -> None:
        """Load the encoder (and the generator) now instead of on the first request."""
        self.embedder.warm_up() if hasattr(self.embedder, "warm_up") else self.embedder.dimension
        if generator:
            gen = self.generator
            gen.warm_up() if hasattr(gen, "warm_up") else gen.count_tokens("warm up")

    def use(self, name: str):
        """``with service.use(name) as col:`` the shared read-only handle on ``name``, which
        stays open until the block ends even if the collection is deleted meanwhile
        (:class:`rag.store.handles.HandleCache`)."""
        return self.handles.lease(name)

    def collection(self, name: str):
        """The shared read-only handle on ``name``, unleased: for single-threaded programs;
        concurrent code uses :meth:`use`."""
        return self.handles.current(name)

    def _check_encoder(self, col) -> None:
        if col.embedding_model != self.embedder.name:
            col.check_model(self.embedder.name, self.embedder.dimension)

    def forget(self, name: str) -> None:
        """Drop the cached handle (before deleting the collection); it is closed once unused."""
        self.handles.forget(name)

    def close(self) -> None:
        self.handles.close()

    # ------------------------------------------------------------------ retrieval
    def retrieve(self, collection: str, request: RetrieveRequest) -> SearchResponse:
        """The passages of ``collection`` that best match the query."""
        started = time.perf_counter()
        query = request.query.strip()
        if not query:
            raise InvalidInputError("the query is empty")
        with self.use(collection) as col:
            # A sharded collection is searched through a fan-out that notes the shards that failed.
            view = col.query(self.settings.shard_timeout) if isinstance(col, ShardedCollection) else col
            hits = self.retriever.retrieve(view, request.model_copy(update={"query": query}))
        failed = getattr(view, "failures", [])
        return SearchResponse(query=query, collection=collection, mode=request.mode, hits=hits,
                              seconds=time.perf_counter() - started, partial=bool(failed), failed_shards=failed)

    # ------------------------------------------------------------------ answering
    def ask(self, collection: str, request: AskRequest) -> AskResponse:
        """Answer from the collection's passages, or abstain."""
        response = None
        for event in self.ask_stream(collection, request):
            if event.event == "done":
                response = event.response
        assert response is not None
        return response

    def ask_stream(self, collection: str, request: AskRequest) -> Iterator[StreamEvent]:
        """Stream an answer: ``passages``, then ``token`` deltas, then ``done``.

        Errors before the first event raise; the caller turns them into its own
        error form. A model that abstains streams no tokens.
        """
        started = time.perf_counter()
        found = self.retrieve(collection, request)
        timings = {"retrieve": found.seconds}
        question = found.query
        weak = self._weak_evidence(found.hits, request)
        if weak:
            yield StreamEvent(event="passages", passages=found.hits)
            yield StreamEvent(event="done", response=self._abstain(question, collection, found.hits, weak, timings, started))
            return

        gen = self.generator
        hits = self._reading(found.hits, request)
        prompt = build_prompt(question, hits, count_tokens=gen.count_tokens,
                              context_window=gen.context_window, max_tokens=request.max_tokens)
        yield StreamEvent(event="passages", passages=prompt.passages)
        if not prompt.passages:
            reason = "the passages are too long for the model's context window"
            yield StreamEvent(event="done", response=self._abstain(question, collection, found.hits, reason, timings, started))
            return

        t0 = time.perf_counter()
        # The first token's distribution is the model's answerability verdict; for llama.cpp
        # the stream below reuses this evaluation of the prompt, so the score is free.
        first_tokens = gen.first_token_logprobs(prompt.messages)
        score = answerable_score(first_tokens)
        timings["score"] = time.perf_counter() - t0
        if score <= self.settings.answerable_threshold and self.settings.answerable_threshold > 0:
            timings["first_token"] = timings["generate"] = timings["score"]
            reason = (f"the model judged that the passages do not answer the question "
                      f"(answerable score {score:.2f} <= {self.settings.answerable_threshold:.2f})")
            yield StreamEvent(event="done", response=self._abstain(
                question, collection, prompt.passages, reason, timings, started, model=gen.name, score=score,
                first_tokens=first_tokens))
            return
        parts: list[str] = []
        # Hold output back until it cannot be the start of an abstention; under the remove
        # policy hold all of it: the user must never see a sentence that verification removes.
        buffer_all = self.verifier is not None and self.settings.unsupported_policy == "remove"
        held = True
        first_token = None
        # Past the threshold the model has judged the passages to answer, so its reply may not
        # start with NOT FOUND (with threshold 0 the greedy reply decides, as it always did).
        avoid = [NOT_FOUND] if self.settings.answerable_threshold > 0 else None
        for delta in gen.stream(prompt.messages, max_tokens=request.max_tokens, temperature=request.temperature,
                                avoid_first=avoid):
            if first_token is None:
                first_token = time.perf_counter() - t0
            parts.append(delta)
            text = "".join(parts)
            if buffer_all:
                continue
            if held:
                if len(text.strip()) < _ABSTAIN_PROBE and NOT_FOUND.startswith(text.strip().upper()):
                    continue
                if is_abstention(text):
                    continue
                held = False
                yield StreamEvent(event="token", delta=text)
            else:
                yield StreamEvent(event="token", delta=delta)
        timings["generate"] = time.perf_counter() - t0
        timings["first_token"] = first_token if first_token is not None else timings["generate"]
        answer = "".join(parts).strip()

        if is_abstention(answer):
            yield StreamEvent(event="done", response=self._abstain(
                question, collection, prompt.passages, "the model found no answer in the passages", timings, started,
                model=gen.name, score=score, first_tokens=first_tokens))
            return
        answer = drop_invalid_markers(answer, len(prompt.passages))
        if self.settings.repoint_citations:
            answer = repoint_markers(answer, prompt.passages)
            answer = cite_question_numbers(answer, question, prompt.passages)
        citations, sentences = resolve_citations(answer, prompt.passages)
        cited = [prompt.passages[c.marker - 1].text for c in citations] or [p.text for p in prompt.passages]
        missing = missing_numbers(question, cited)
        if missing:
            where = "the passages the answer cites" if citations else "the passages"
            yield StreamEvent(event="done", response=self._abstain(
                question, collection, prompt.passages,
                f"{where} never mention {', '.join(missing)}, which the question asks about", timings, started,
                model=gen.name, score=score, first_tokens=first_tokens))
            return
        response = AskResponse(
            question=question, collection=collection, answer=answer, answerable=True, citations=citations,
            passages=prompt.passages, sentences=sentences, model=gen.name, timings=timings, answerable_score=score,
            first_tokens=first_tokens,
        )
        if self.verifier is not None:
            t = time.perf_counter()
            response = self.verifier.annotate(response)
            timings["verify"] = time.perf_counter() - t
        timings["total"] = time.perf_counter() - started
        if buffer_all and response.answerable:
            yield StreamEvent(event="token", delta=response.answer)  # what verification kept, at once
        yield StreamEvent(event="done", response=response.model_copy(update={"timings": timings}))

    def _reading(self, hits: list[ChunkHit], request: AskRequest) -> list[ChunkHit]:
        """The hits the model reads: those far behind the best dropped (weighted hybrid scores
        only, where that share is calibrated), neighbours joined, near-duplicates dropped."""
        s = self.settings
        if request.mode == "hybrid" and s.fusion == "weighted" and not s.rerank_model:
            hits = cut_off(hits, share=s.passage_cutoff, keep=s.min_passages)
        return assemble(hits) if s.join_passages else hits

    def _weak_evidence(self, hits: list[ChunkHit], request: AskRequest) -> str | None:
        """A reason to abstain before asking the model, or None."""
        if not hits:
            return "no passage of the collection matches the question"
        dense = [h.dense_score for h in hits if h.dense_score is not None]
        if dense and max(dense) < self.settings.min_relevance:
            return (f"no passage is close enough to the question (best similarity {max(dense):.2f} "
                    f"< {self.settings.min_relevance:.2f})")
        return None

    def _abstain(self, question, collection, passages, reason, timings, started, model: str = "",
                 score: float | None = None, first_tokens: dict[str, float] | None = None) -> AskResponse:
        timings["total"] = time.perf_counter() - started
        return AskResponse(question=question, collection=collection, answer=ABSTENTION_MESSAGE, answerable=False,
                           reason=reason, passages=passages, model=model, timings=timings, answerable_score=score,
                           first_tokens=first_tokens)

