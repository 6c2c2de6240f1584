"""Ask (JSON or server-sent events) and retrieve."""

from __future__ import annotations

import logging
from contextlib import aclosing

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse
from pydantic import Field

from rag.api.asking import answer_events, error_dict, start
from rag.api.access import require_read
from rag.api.deps import ERROR_RESPONSES, V1, get_service, with_default_k
from rag.api.limits import check_request
from rag.api.sse import SSE_HEADERS, sse
from rag.api.threads import run_blocking
from rag.errors import RagError
from rag.schemas import AskRequest, AskResponse, ErrorResponse, RetrieveRequest, SearchResponse, StreamEvent

log = logging.getLogger("rag.api")

router = APIRouter(prefix=V1, tags=["query"], responses={
    **ERROR_RESPONSES,
    502: {"model": ErrorResponse, "description": "The generator failed"},
    503: {"model": ErrorResponse, "description": "The generator is unavailable"},
    504: {"model": ErrorResponse, "description": "request_timeout passed"},
})


class AskBody(AskRequest):
    """An :class:`AskRequest`, optionally streamed."""

    stream: bool = Field(False, description="Answer as server-sent events (or send Accept: text/event-stream).")


@router.post("/collections/{name}/ask", response_model=AskResponse, responses={
    200: {"content": {"text/event-stream": {}},
          "description": "The answer; streamed: one `event: <type>` + `data: <StreamEvent JSON>` per event "
                         "(passages, token..., done; or error)"},
})
async def ask(name: str, body: AskBody, request: Request):
    """Answer a question from the collection's passages, with citations, or abstain."""
    require_read(request, name)
    check_request(body, request.app.state.settings)
    question = with_default_k(AskRequest.model_validate(body.model_dump(exclude={"stream"})), body, request)
    if body.stream or "text/event-stream" in request.headers.get("accept", ""):
        first, rest = await start(answer_events(request, name, question, "stream"))
        return StreamingResponse(_event_stream(first, rest), media_type="text/event-stream", headers=SSE_HEADERS)
    response = None
    async with aclosing(answer_events(request, name, question, "json")) as events:
        async for event in events:
            if event.event == "done":
                response = event.response
    return response


async def _event_stream(first: StreamEvent, rest):
    # Full dumps (no exclude_none): some nullable fields, e.g. Citation.page, are required.
    async with aclosing(rest):
        yield sse(first.model_dump_json(), first.event)
        try:
            async for event in rest:
                yield sse(event.model_dump_json(), event.event)
        except Exception as exc:  # noqa: BLE001 - the status is sent already: report in-band
            if not isinstance(exc, RagError):
                log.exception("error while streaming an answer")
            error = StreamEvent(event="error", error=error_dict(exc))
            yield sse(error.model_dump_json(), "error")


@router.post("/collections/{name}/retrieve", response_model=SearchResponse)
async def retrieve(name: str, body: RetrieveRequest, request: Request) -> SearchResponse:
    """The passages that best match the query (no generation)."""
    require_read(request, name)
    check_request(body, request.app.state.settings)
    found = await run_blocking(get_service(request).retrieve, name, with_default_k(body, body, request),
                               timeout=request.app.state.settings.request_timeout)
    request.app.state.metrics.observe_stages({"retrieve": found.seconds})
    return found

