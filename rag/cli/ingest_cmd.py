"""``rag ingest PATH... --collection NAME``."""

from __future__ import annotations

import sys

from rag.cli.output import print_json, print_table

#: Exit code when some files failed (the others were still ingested).
EXIT_SOME_FAILED = 10


def add_parser(sub) -> None:
    p = sub.add_parser(
        "ingest",
        help="add files and folders to a collection",
        description="Ingest PDF, text, Markdown and HTML files (folders are searched recursively). "
        "Unchanged files are skipped, changed ones replaced. Exit code 0 when every file "
        f"was ingested, {EXIT_SOME_FAILED} when some failed (the others are still ingested).",
    )
    p.add_argument("paths", nargs="+", metavar="PATH", help="files or folders")
    p.add_argument("--collection", "-c", required=True, help="collection name (created if missing)")
    p.add_argument("--prune", action="store_true", help="remove documents whose files are gone from the named folders")
    p.add_argument("--rebuild", action="store_true",
                   help="delete the collection first and ingest the named files anew (for a collection built by "
                   "another version or with other chunk settings)")
    p.add_argument("--tag", action="append", default=[], dest="tags", help="tag the ingested documents (repeatable)")
    p.add_argument("--shards", type=int, metavar="N",
                   help="create the collection as N shards searched as one (see docs/sharding.md)")
    p.add_argument("--ray", metavar="ADDRESS", default=None,
                   help="parse and embed on a Ray cluster: local, auto, HOST:PORT or ray://HOST:PORT "
                   "(default: RAG_RAY_ADDRESS; needs the 'scale' extra)")
    p.add_argument("--workers", type=int, metavar="N", help="with --ray: actors per stage (default: RAG_RAY_WORKERS)")
    p.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    p.set_defaults(func=run)


def run(args, settings) -> int:
    from ingest.pipeline import Ingestor
    from rag.store.manager import validate_name

    validate_name(args.collection)
    ingestor = Ingestor(settings)
    if args.rebuild and ingestor.manager.exists(args.collection):
        ingestor.manager.delete(args.collection)
        print(f"collection '{args.collection}' deleted; ingesting anew", file=sys.stderr)
    address = args.ray if args.ray is not None else settings.ray_address
    runner = ingestor
    if address:
        from ingest.distributed import RayIngestor

        runner = RayIngestor(settings, address, workers=args.workers or settings.ray_workers or None,
                             ingestor=ingestor)
    summary = runner.ingest(
        args.paths, args.collection, prune=args.prune, tags=args.tags, progress=not args.json and sys.stderr.isatty(),
        shards=args.shards,
    )
    if args.json:
        print_json(summary)
    else:
        failed = [f for f in summary.files if f.status == "failed"]
        if failed:
            print_table(["failed file", "reason"], [(f.path, f.reason) for f in failed], max_width=90)
            print()
        print(
            f"collection '{summary.collection}': {summary.ingested} ingested, {summary.replaced} replaced, "
            f"{summary.unchanged} unchanged, {summary.failed} failed, {summary.pruned} pruned; "
            f"{summary.pages} pages, {summary.chunks} chunks in {summary.seconds:.1f} s"
        )
    return EXIT_SOME_FAILED if summary.failed else 0
