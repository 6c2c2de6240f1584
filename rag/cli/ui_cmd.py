"""``rag ui``: the web UI (Streamlit), talking to a running ``rag serve`` through the SDK.

The UI is a sibling app: the CLI does not import it; it runs ``streamlit run ui/app.py``
in a subprocess and passes the API's URL and key in the environment.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

#: Read by ui/state.py.
URL_ENV = "RAG_UI_API_URL"
KEY_ENV = "RAG_UI_API_KEY"
EVAL_DIR_ENV = "RAG_UI_EVAL_DIR"
DEFAULT_API_URL = "http://127.0.0.1:8000"


def add_parser(sub) -> None:
    p = sub.add_parser("ui", help="open the web UI",
                       description="Serve the web UI (Streamlit) for a running `rag serve`. "
                       "Needs the 'ui' extra.")
    p.add_argument("--api-url", default=None,
                   help=f"the API to talk to (default: ${URL_ENV}, else {DEFAULT_API_URL})")
    p.add_argument("--api-key", default=None, help=f"API key, if the server needs one (default: ${KEY_ENV})")
    p.add_argument("--port", type=int, default=8501, help="port of the UI (default: 8501)")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1)")
    p.add_argument("--eval-dir", default=None, help=f"folder of evaluation runs (default: ${EVAL_DIR_ENV}, ./eval-runs)")
    p.set_defaults(func=run)


def app_path() -> Path:
    """ui/app.py, found without importing the UI."""
    spec = importlib.util.find_spec("ui")
    if spec is None or not spec.submodule_search_locations:
        from rag.errors import RagError

        raise RagError("the ui package is not installed (install groundrag from its source checkout)")
    return Path(next(iter(spec.submodule_search_locations))) / "app.py"


def command(args) -> list[str]:
    """The ``streamlit run`` command line."""
    return [sys.executable, "-m", "streamlit", "run", str(app_path()),
            "--server.headless", "true", "--server.port", str(args.port), "--server.address", args.host,
            "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none",
            "--client.toolbarMode", "minimal"]


def environment(args) -> dict[str, str]:
    """The UI's environment: ours plus the API's URL/key and the checkout on PYTHONPATH."""
    env = dict(os.environ)
    env[URL_ENV] = args.api_url or env.get(URL_ENV) or DEFAULT_API_URL
    if args.api_key:
        env[KEY_ENV] = args.api_key
    if args.eval_dir:
        env[EVAL_DIR_ENV] = args.eval_dir
    root = str(app_path().parents[1])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
    return env


def run(args, settings) -> int:
    from rag.errors import MissingDependencyError

    if importlib.util.find_spec("streamlit") is None:  # found, not imported: the UI runs in a subprocess
        raise MissingDependencyError("'streamlit' is not installed: install the 'ui' extra, "
                                     "for example: pip install 'groundrag[ui]'")
    env = environment(args)
    print(f"UI on http://{args.host}:{args.port} — talking to {env[URL_ENV]} (Ctrl-C to stop)", flush=True)
    try:
        return subprocess.call(command(args), env=env)
    except KeyboardInterrupt:
        return 130
