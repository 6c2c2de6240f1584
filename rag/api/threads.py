"""Blocking work off the event loop: a call with a deadline, and an iterator run in
one worker thread and consumed from the loop.

Why not ``iterate_in_threadpool``: it calls ``next()`` on whichever pool thread is
free, but a streamed generation holds the generator's lock (a ``threading.RLock``)
from its first token to its last, and an RLock must be released by the thread that
took it. Here one thread runs the iterator from start to end (and closes it), the
loop reads its items from a queue, a deadline bounds the whole run, and a consumer
that goes away (client disconnect, timeout) stops the producer at its next item.
"""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import Executor
from typing import AsyncIterator, Callable, Iterator, TypeVar

from rag.api.errors import RequestTimeoutError

T = TypeVar("T")
_END = object()


async def run_blocking(fn: Callable[..., T], *args, timeout: float) -> T:
    """``fn(*args)`` in the thread pool; :class:`RequestTimeoutError` after ``timeout`` s.

    On timeout the call cannot be killed: it finishes in the background and its
    result is dropped (reads only; writes are never run this way with a timeout).
    """
    from fastapi.concurrency import run_in_threadpool

    try:
        return await asyncio.wait_for(run_in_threadpool(fn, *args), timeout)
    except asyncio.TimeoutError:
        raise RequestTimeoutError(f"the request took longer than {timeout:g} s and was stopped") from None


async def iterate_in_thread(
    make: Callable[[], Iterator[T]], *, executor: Executor | None, timeout: float
) -> AsyncIterator[T]:
    """Yield the items of ``make()`` as one worker thread produces them.

    Raises what the iterator raises, or :class:`RequestTimeoutError` after ``timeout``
    seconds in all.
    """
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue = asyncio.Queue()
    stop = threading.Event()

    def put(item, exc=None) -> None:
        try:
            loop.call_soon_threadsafe(queue.put_nowait, (item, exc))
        except RuntimeError:  # the loop is closed: nobody is listening any more
            stop.set()

    def produce() -> None:
        if stop.is_set():
            return
        try:
            it = make()
            try:
                for item in it:
                    put(item)
                    if stop.is_set():
                        break
            finally:
                getattr(it, "close", lambda: None)()
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer
            put(_END, exc)
        else:
            put(_END)

    loop.run_in_executor(executor, produce)
    deadline = loop.time() + timeout
    try:
        while True:
            try:
                item, exc = await asyncio.wait_for(queue.get(), max(deadline - loop.time(), 0))
            except asyncio.TimeoutError:
                raise RequestTimeoutError(f"the request took longer than {timeout:g} s and was stopped") from None
            if item is _END:
                if exc is not None:
                    raise exc
                return
            yield item
    finally:
        stop.set()
