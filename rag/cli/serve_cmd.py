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


def add_parser(sub) -> None:
    p = sub.add_parser("serve", help="serve the HTTP API",
                       description="Serve the HTTP API under /v1 (OpenAPI at /docs), with an OpenAI-compatible "
                       "/v1/chat/completions. Needs the 'server' extra.")
    p.add_argument("--host", help="address to bind (default: RAG_HOST, 127.0.0.1)")
    p.add_argument("--port", type=int, help="port (default: RAG_PORT, 8000)")
    p.add_argument("--no-warm-up", dest="warm_up", action="store_false",
                   help="load the models on the first request instead of at startup")
    p.add_argument("--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"])
    p.set_defaults(func=run)


def run(args, settings) -> int:
    from rag.errors import require

    require("fastapi", "server")
    uvicorn = require("uvicorn", "server")

    host = args.host or settings.host
    port = args.port or settings.port
    os.environ[WARM_UP_ENV] = "1" if args.warm_up else "0"
    shown = f"[{host}]" if ":" in host else host
    # An empty RAG_API_KEY (docker-compose.yml passes API_KEY through, set or not) means no key.
    auth = " (API key required)" if settings.api_key is not None and settings.api_key.get_secret_value() else ""
    print(f"serving http://{shown}:{port}/v1{auth} — docs at http://{shown}:{port}/docs", flush=True)
    uvicorn.run(APP_FACTORY, factory=True, host=host, port=port, log_level=args.log_level,
                timeout_graceful_shutdown=5)
    return 0
