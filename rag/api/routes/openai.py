"""An OpenAI-compatible facade: chat completions answered from a collection.

``model`` names the collection (``rag:<collection>``); the last user message is
the question; the answer's citations are appended as a "Sources:" list. Existing
OpenAI clients and chat UIs can then talk to a collection unchanged.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from contextlib import aclosing

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from rag.api.asking import answer_events, error_dict, start
from rag.api.access import readable, require_read
from rag.api.deps import ERROR_RESPONSES, V1, get_service
from rag.api.limits import check_question
from rag.api.openai_models import MODEL_PREFIX, ChatCompletionRequest
from rag.api.sse import SSE_HEADERS, sse
from rag.api.threads import run_blocking
from rag.errors import InvalidInputError, RagError
from rag.schemas import AskRequest, AskResponse

log = logging.getLogger("rag.api")

router = APIRouter(prefix=V1, tags=["openai"], responses=ERROR_RESPONSES)


def sources_text(response: AskResponse) -> str:
    """The "Sources:" block appended to an answer ('' when nothing is cited)."""
    if not response.answerable or not response.citations:
        return ""
    lines = ["", "", "Sources:"]
    for c in response.citations:
        page = f", page {c.page}" if c.page else ""
        lines.append(f"[{c.marker}] {c.title}{page} ({c.source})")
    return "\n".join(lines)


@router.get("/models")
async def list_models(request: Request) -> dict:
    """Each collection as a model, ``rag:<collection>``."""
    timeout = request.app.state.settings.request_timeout
    infos = readable(request, await run_blocking(get_service(request).collections.list, timeout=timeout))
    return {"object": "list", "data": [
        {"id": MODEL_PREFIX + c.name, "object": "model", "created": int(c.created_at.timestamp()),
         "owned_by": "groundrag"}
        for c in infos]}


@router.post("/chat/completions")
async def chat_completions(body: ChatCompletionRequest, request: Request):
    """Answer the last user message from the collection named by ``model``."""
    require_read(request, body.collection())
    question = body.question().strip()
    if not question:
        raise InvalidInputError("messages: no user message with text to answer")
    check_question(question, request.app.state.settings, field="messages")
    max_tokens = min(body.max_completion_tokens or body.max_tokens or 384, 4096)
    ask = AskRequest(query=question, k=request.app.state.settings.default_k,
                     max_tokens=max_tokens, temperature=min(body.temperature or 0.0, 2.0))
    meta = {"id": f"chatcmpl-{uuid.uuid4().hex}", "created": int(time.time()), "model": body.model}
    events = answer_events(request, body.collection(), ask, "openai")
    if body.stream:
        first, rest = await start(events)
        return StreamingResponse(_chunks(meta, first, rest), media_type="text/event-stream", headers=SSE_HEADERS)
    response = None
    async with aclosing(events):
        async for event in events:
            if event.event == "done":
                response = event.response
    return {**meta, "object": "chat.completion", "choices": [{
        "index": 0, "message": {"role": "assistant", "content": response.answer + sources_text(response)},
        "finish_reason": "stop"}]}


async def _chunks(meta: dict, first, rest):
    def chunk(delta: dict, finish: str | None = None) -> bytes:
        data = {**meta, "object": "chat.completion.chunk",
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
        return sse(json.dumps(data, ensure_ascii=False))

    yield chunk({"role": "assistant", "content": ""})
    streamed = False
    async with aclosing(rest):
        try:
            async for event in _chain(first, rest):
                if event.event == "token" and event.delta:
                    streamed = True
                    yield chunk({"content": event.delta})
                elif event.event == "done" and event.response is not None:
                    tail = sources_text(event.response)
                    if not streamed:  # an abstention streams no tokens
                        tail = event.response.answer + tail
                    if tail:
                        yield chunk({"content": tail})
                    yield chunk({}, "stop")
        except Exception as exc:  # noqa: BLE001 - the status is sent already: report in-band
            if not isinstance(exc, RagError):
                log.exception("error while streaming a chat completion")
            yield sse(json.dumps({"error": error_dict(exc)}))
    yield sse("[DONE]")


async def _chain(first, rest):
    yield first
    async for event in rest:
        yield event
