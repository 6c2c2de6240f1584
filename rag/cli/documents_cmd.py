"""``rag documents list|delete --collection NAME``."""

from __future__ import annotations

from rag.cli.output import print_json, print_table


def add_parser(sub) -> None:
    p = sub.add_parser("documents", help="list or delete the documents of a collection")
    s = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    ls = s.add_parser("list", help="list documents")
    ls.add_argument("--collection", "-c", required=True)
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(func=run_list)
    rm = s.add_parser("delete", help="delete documents by id or source path")
    rm.add_argument("documents", nargs="+", metavar="ID_OR_PATH")
    rm.add_argument("--collection", "-c", required=True)
    rm.set_defaults(func=run_delete)


def run_list(args, settings) -> int:
    from rag.store import CollectionManager

    with CollectionManager(settings).open(args.collection) as col:
        docs = col.documents()
    if args.json:
        print_json([d.model_dump(mode="json") for d in docs])
    elif not docs:
        print(f"collection '{args.collection}' has no documents")
    else:
        print_table(
            ["id", "title", "kind", "pages", "chunks", "source"],
            [(d.doc_id, d.title, d.kind, d.pages, d.chunks, d.source) for d in docs],
            max_width=50,
        )
    return 0


def run_delete(args, settings) -> int:
    from pathlib import Path

    from rag.errors import NotFoundError
    from rag.store import CollectionManager

    with CollectionManager(settings).open(args.collection, writable=True) as col:
        docs = col.documents()
        by_id = {str(d.doc_id): d for d in docs}
        by_source = {d.source: d for d in docs}
        chosen, unknown = [], []
        for ref in args.documents:
            doc = by_id.get(ref) or by_source.get(ref) or by_source.get(str(Path(ref).expanduser().resolve()))
            (chosen if doc else unknown).append(doc or ref)
        if unknown:
            raise NotFoundError(f"no such document in '{args.collection}': {', '.join(unknown)}")
        n = col.delete_documents([d.doc_id for d in chosen])
    print(f"deleted {n} document(s) from '{args.collection}'")
    return 0
