"""``rag collections list|delete``."""

from __future__ import annotations

from rag.cli.output import print_json, print_table


def add_parser(sub) -> None:
    p = sub.add_parser("collections", help="list or delete collections")
    s = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    ls = s.add_parser("list", help="list collections")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(func=run_list)
    rm = s.add_parser("delete", help="delete a collection and all its documents")
    rm.add_argument("name")
    rm.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    rm.set_defaults(func=run_delete)


def run_list(args, settings) -> int:
    from rag.store import CollectionManager

    infos = CollectionManager(settings).list()
    if args.json:
        print_json([i.model_dump(mode="json") for i in infos])
    elif not infos:
        print(f"no collections in {settings.collections_dir}")
    else:
        print_table(
            ["name", "documents", "chunks", "model", "index"],
            [(i.name, i.documents, i.chunks, i.embedding_model, i.index_type) for i in infos],
        )
    return 0


def run_delete(args, settings) -> int:
    import sys

    from rag.store import CollectionManager

    mgr = CollectionManager(settings)
    if not mgr.exists(args.name):
        from rag.errors import NotFoundError

        raise NotFoundError(f"collection '{args.name}' does not exist")
    if not args.yes and sys.stdin.isatty():
        answer = input(f"Delete collection '{args.name}' and all its documents? [y/N] ")
        if answer.strip().lower() not in ("y", "yes"):
            print("cancelled")
            return 1
    mgr.delete(args.name)
    print(f"deleted collection '{args.name}'")
    return 0
