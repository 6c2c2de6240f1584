"""Entry point of the ``rag`` command.

Each command group lives in its own module with an ``add_parser(subparsers)``
function that registers its sub-commands and sets ``func`` on the parser. Handlers
take ``(args, settings)`` and return an exit code. Domain errors become a one-line
message on stderr and the error's exit code; never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from rag.errors import RagError

#: Modules that register command groups, in help order.
COMMAND_MODULES = (
    "rag.cli.ingest_cmd",
    "rag.cli.search_cmd",
    "rag.cli.ask_cmd",
    "rag.cli.collections_cmd",
    "rag.cli.documents_cmd",
    "rag.cli.models_cmd",
    "rag.cli.doctor_cmd",
    "rag.cli.eval_cmd",
    "rag.cli.serve_cmd",
    "rag.cli.keys_cmd",
    "rag.cli.ui_cmd",
)


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser (cheap: command modules import heavy parts lazily)."""
    parser = argparse.ArgumentParser(
        prog="rag",
        description="Ask questions of your documents; answers cite their sources.",
    )
    from rag import __version__

    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        from rag.config import get_settings

        settings = get_settings()
        return int(args.func(args, settings) or 0)
    except RagError as exc:
        print(f"rag: error: {exc.message}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("rag: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
