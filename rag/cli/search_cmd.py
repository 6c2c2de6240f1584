"""``rag search "QUERY" --collection NAME``."""

from __future__ import annotations

from rag.cli.output import print_json


def add_parser(sub) -> None:
    p = sub.add_parser("search", help="find the passages closest to a query", description="Retrieve chunks only (no answer).")
    p.add_argument("query")
    p.add_argument("--collection", "-c", required=True)
    p.add_argument("--k", type=int, default=5, help="how many chunks (default 5)")
    p.add_argument("--json", action="store_true", help="print the response as JSON")
    p.set_defaults(func=run)


def run(args, settings) -> int:
    from rag.retrieve.search import search

    response = search(settings, args.collection, args.query, k=args.k)
    if args.json:
        print_json(response)
        return 0
    if not response.hits:
        print("no results")
    for rank, hit in enumerate(response.hits, 1):
        where = f"p. {hit.page}" if hit.page else "-"
        print(f"[{rank}] {hit.score:.3f}  {hit.title}  ({where})  {hit.source}")
        print("    " + " ".join(hit.text.split())[:400])
    return 0
