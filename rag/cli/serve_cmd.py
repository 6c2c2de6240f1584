"""``rag serve``: the HTTP API (and its OpenAI-compatible facade) with uvicorn.

The CLI and the API are sibling apps (see the import-linter contract): the CLI does
not import :mod:`rag.api`; it hands uvicorn the app factory by its import path, the
way ``uvicorn --factory rag.api.app:app_from_env`` would, and the factory reads the
same ``RAG_*`` settings from the environment.
"""

from __future__ import annotations

import os

#: The app factory, as uvicorn imports it.
APP_FACTORY = "rag.api.app:app_from_env"
#: Read by the factory; mirrors ``--no-warm-up``.
WARM_UP_ENV = "RAG_SERVE_WARM_UP"
LOG_LEVEL_ENV = "RAG_SERVE_LOG_LEVEL"


def add_parser(sub) -> None:
    p = sub.add_parser("serve", help="serve the HTTP API",
                       description="Serve the HTTP API under /v1 (OpenAPI at /docs), with an OpenAI-compatible "
                       "/v1/chat/completions. Needs the 'server' extra.")
    p.add_argument("--host", help="address to bind (default: RAG_HOST, 127.0.0.1)")
    p.add_argument("--port", type=int, help="port (default: RAG_PORT, 8000)")
    p.add_argument("--no-warm-up", dest="warm_up", action="store_false",
                   help="load the models on the first request instead of at startup")
    p.add_argument("--shard", action="store_true",
                   help="run as a shard worker for a coordinator's RAG_SHARD_URLS: answers /v1/shards/... "
                   "(and the rest of the API) and loads no model at startup (see docs/sharding.md)")
    p.add_argument("--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"])
    p.set_defaults(func=run)


def run(args, settings) -> int:
    from rag.auth import KeyStore, auth_decision
    from rag.errors import require

    require("fastapi", "server")
    uvicorn = require("uvicorn", "server")

    host = args.host or settings.host
    port = args.port or settings.port
    os.environ[WARM_UP_ENV] = "1" if args.warm_up and not args.shard else "0"
    os.environ[LOG_LEVEL_ENV] = args.log_level
    # The app factory reads the settings again: it must see the address actually bound
    # (authentication and the Host check depend on it).
    os.environ["RAG_HOST"] = host
    shown = f"[{host}]" if ":" in host else host
    decision = auth_decision(settings.model_copy(update={"host": host}), KeyStore.for_settings(settings))
    print(f"serving http://{shown}:{port}/v1 — docs at http://{shown}:{port}/docs", flush=True)
    print(("WARNING: " if settings.auth == "off" else "") + decision.reason, flush=True)
    uvicorn.run(APP_FACTORY, factory=True, host=host, port=port, log_level=args.log_level,
                timeout_graceful_shutdown=5)
    return 0
