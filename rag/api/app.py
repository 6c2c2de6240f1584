"""``create_app``: the FastAPI application around a :class:`rag.pipeline.RAGService`."""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager

from fastapi import FastAPI

log = logging.getLogger("rag.api")

_MB = 1024 * 1024


#: Environment switch read by :func:`app_from_env` ("0" = no warm-up); set by ``rag serve --no-warm-up``.
WARM_UP_ENV = "RAG_SERVE_WARM_UP"
#: Level of the ``rag`` JSON logs; set by ``rag serve --log-level``.
LOG_LEVEL_ENV = "RAG_SERVE_LOG_LEVEL"


def app_from_env() -> FastAPI:
    """The app for the settings in the environment: uvicorn's factory target
    (``uvicorn --factory rag.api.app:app_from_env``), used by ``rag serve``."""
    import os

    from rag.config import get_settings

    from rag.api.logs import configure_logging

    configure_logging(os.environ.get(LOG_LEVEL_ENV, "info"))
    return create_app(get_settings(), warm_up=os.environ.get(WARM_UP_ENV, "1") != "0")


def create_app(settings, service=None, *, warm_up: bool = True) -> FastAPI:
    """Build the HTTP app.

    Args:
        settings: the product :class:`rag.config.Settings` (``api_key``, ``max_upload_mb``,
            ``request_timeout``... are read here).
        service: the :class:`rag.pipeline.RAGService` to serve (built from ``settings``
            if omitted). Routes reach it through ``request.app.state.service``.
        warm_up: load the encoder and the generator in a background thread at startup;
            ``/readyz`` answers 503 until they are loaded. Without it the server is
            ready at once and the first request loads them.

    Example:
        >>> import uvicorn                                          # doctest: +SKIP
        >>> uvicorn.run(create_app(get_settings()), port=8000)     # doctest: +SKIP
    """
    from rag import __version__
    from rag.api.errors import install_error_handlers
    from rag.api.jobs import IngestJobs
    from rag.api.metrics import Metrics
    from rag.api.auth import AuthMiddleware
    from rag.api.guards import HostOriginMiddleware, allowed_hosts
    from rag.api.observe import ObserveMiddleware
    from rag.api.middleware import MULTIPART_SLACK, BodyLimitMiddleware
    from rag.api.ratelimit import RateLimiter
    from rag.auth import KeyStore, auth_decision
    from rag.api.readiness import Readiness
    from rag.api.routes import collections, documents, health, openai, query, shards

    if service is None:
        from rag.pipeline import RAGService

        service = RAGService(settings)
    metrics = Metrics()
    readiness = Readiness()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        if warm_up:
            readiness.start(service)
        yield
        app.state.jobs.stop()
        app.state.ask_executor.shutdown(wait=False, cancel_futures=True)
        service.close()

    app = FastAPI(
        title="groundrag",
        version=__version__,
        description="Answers questions from your documents, citing its sources, and says when they do not hold "
        "the answer. Errors are `{\"error\": {\"type\", \"message\"}}`.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.service = service
    app.state.metrics = metrics
    app.state.readiness = readiness
    app.state.jobs = IngestJobs(settings, service, metrics)
    # Sized per backend (Settings.ask_concurrency): an OpenAI-compatible server batches
    # many answers at once; llama.cpp generates one at a time, so a few threads only let
    # the next request's retrieval overlap the current generation.
    app.state.ask_executor = ThreadPoolExecutor(settings.ask_concurrency, thread_name_prefix="rag-ask")

    install_error_handlers(app)
    for module in (collections, query, documents, shards, openai, health):
        app.include_router(module.router)

    # Added last = outermost: metrics see every request; Host/Origin, then the key and
    # the rate limit, are checked before the body is read.
    keys = KeyStore.for_settings(settings)
    decision = auth_decision(settings, keys)
    (log.warning if not decision.required and settings.auth == "off" else log.info)("%s", decision.reason)
    app.state.auth = decision
    app.add_middleware(BodyLimitMiddleware, max_bytes=int(settings.max_upload_mb * _MB) + MULTIPART_SLACK,
                       max_json_bytes=int(settings.max_json_kb * 1024))
    app.add_middleware(AuthMiddleware, decision=decision, keys=keys,
                       static_key=settings.api_key.get_secret_value() if settings.api_key else None,
                       limiter=RateLimiter(settings.rate_limit_per_minute, settings.rate_limit_burst))
    origins = settings.split_list(settings.cors_origins)
    if origins:
        from starlette.middleware.cors import CORSMiddleware

        app.add_middleware(CORSMiddleware, allow_origins=origins, allow_methods=["GET", "POST", "DELETE"],
                           allow_headers=["Authorization", "Content-Type", "Accept", "X-Request-ID"])
    app.add_middleware(HostOriginMiddleware, hosts=allowed_hosts(settings), origins=origins)
    # Outermost: refused requests get an id, a metric and a log line too.
    app.add_middleware(ObserveMiddleware, metrics=metrics)
    return app
