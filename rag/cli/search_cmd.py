"""``rag search "QUERY" --collection NAME``: passages only, no answer."""

from __future__ import annotations

from rag.cli.output import print_json


def add_parser(sub) -> None:
    p = sub.add_parser("search", help="find the passages closest to a query",
                       description="Retrieve passages only (no answer).")
    p.add_argument("query")
    p.add_argument("--collection", "-c", required=True)
    add_retrieval_options(p)
    p.add_argument("--json", action="store_true", help="print the response as JSON")
    p.set_defaults(func=run)


def add_retrieval_options(p) -> None:
    """--k, --mode and the filters, shared by search and ask."""
    p.add_argument("--k", type=int, default=None, help="how many passages (default: RAG_DEFAULT_K, 5)")
    p.add_argument("--mode", choices=["hybrid", "dense", "bm25"], default="hybrid", help="retrieval (default hybrid)")
    p.add_argument("--doc", type=int, action="append", dest="doc_ids", metavar="ID", help="only this document id (repeatable)")
    p.add_argument("--source", metavar="PATTERN", help="only sources matching this shell pattern, e.g. '*/2023/*.pdf'")
    p.add_argument("--tag", action="append", dest="tags", help="only documents with this tag (repeatable)")


def request_fields(args, settings) -> dict:
    """The retrieval fields of a request, from the parsed options."""
    from rag.schemas import SearchFilters

    filters = None
    if args.doc_ids or args.source or args.tags:
        filters = SearchFilters(doc_ids=args.doc_ids, source=args.source, tags=args.tags)
    return {"query": args.query, "k": args.k or settings.default_k, "mode": args.mode, "filters": filters}


def run(args, settings) -> int:
    import sys

    from rag.cli.validation import build
    from rag.pipeline import RAGService
    from rag.schemas import RetrieveRequest

    request = build(RetrieveRequest, **request_fields(args, settings))
    service = RAGService(settings)
    service.warm_up(generator=False)
    response = service.retrieve(args.collection, request)
    if args.json:
        print_json(response)
        return 0
    for failed in response.failed_shards:
        print(f"warning: shard {failed.shard} left out ({failed.reason} in {failed.stage}: {failed.message}); "
              "results are partial", file=sys.stderr)
    if not response.hits:
        print("no results")
    for rank, hit in enumerate(response.hits, 1):
        where = f"p. {hit.page}" if hit.page else "-"
        print(f"[{rank}] {hit.score:.3f}  {hit.title}  ({where})  {hit.source}")
        print("    " + " ".join(hit.text.split())[:400])
    return 0
