"""Answer events for a request: the service's stream run in a worker thread, timed,
bounded by ``request_timeout`` and counted in the metrics."""

from __future__ import annotations

import time
from typing import AsyncIterator

from fastapi import Request

from rag.api.threads import iterate_in_thread
from rag.errors import RagError
from rag.schemas import AskRequest, StreamEvent


async def answer_events(request: Request, collection: str, ask: AskRequest, mode: str) -> AsyncIterator[StreamEvent]:
    """``passages``, ``token``..., ``done`` events; raises what the service raises.

    Args:
        mode: metrics label of the caller (``json``, ``stream``, ``openai``).
    """
    state = request.app.state
    service, metrics = state.service, state.metrics
    started = time.perf_counter()
    outcome = "incomplete"
    try:
        events = iterate_in_thread(lambda: service.ask_stream(collection, ask),
                                   executor=state.ask_executor, timeout=state.settings.request_timeout)
        async for event in events:
            if event.event == "token":
                metrics.tokens.labels(mode).inc()
            elif event.event == "done" and event.response is not None:
                outcome = "answered" if event.response.answerable else "abstained"
                metrics.observe_stages(event.response.timings)
            yield event
    except BaseException:
        outcome = "error"
        raise
    finally:
        metrics.ask_latency.labels(mode, outcome).observe(time.perf_counter() - started)


async def start(events: AsyncIterator[StreamEvent]) -> tuple[StreamEvent, AsyncIterator[StreamEvent]]:
    """The first event, awaited before the response starts so that an early error
    (unknown collection, empty question, generator down) gets its HTTP status."""
    first = await events.__anext__()
    return first, events


def error_dict(exc: BaseException) -> dict:
    """The ``error`` member for an error that happens once a stream has started."""
    if isinstance(exc, RagError):
        return {"type": exc.type, "message": exc.message}
    return {"type": "internal_error", "message": "the server hit an unexpected error; it has been logged"}
