"""``rag keys create|list|revoke``: the API keys of this RAG home (see docs/security.md)."""

from __future__ import annotations

from rag.cli.output import print_json, print_table


def add_parser(sub) -> None:
    p = sub.add_parser("keys", help="create, list or revoke API keys",
                       description="API keys of the HTTP API, stored hashed in HOME/auth/keys.sqlite3. Once a key "
                       "exists, the server requires one even on loopback.")
    s = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    new = s.add_parser("create", help="create a key (printed once)")
    new.add_argument("--name", required=True, help="who or what uses the key")
    new.add_argument("--role", choices=("reader", "writer", "admin"), default="reader",
                     help="reader: ask and read; writer: also upload and delete; admin: everything (default: reader)")
    new.add_argument("--collection", "-c", dest="collections", action="append", default=[],
                     help="a collection name or pattern (team-*) the key may use; repeat for more; '*' for all")
    new.add_argument("--json", action="store_true")
    new.set_defaults(func=run_create)
    ls = s.add_parser("list", help="list keys (never their secrets)")
    ls.add_argument("--all", action="store_true", help="include revoked keys")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(func=run_list)
    rm = s.add_parser("revoke", help="revoke a key; it stops working at once")
    rm.add_argument("key_id", help="the key's id (from `rag keys list`) or the key itself")
    rm.set_defaults(func=run_revoke)


def _store(settings):
    from rag.auth import KeyStore

    return KeyStore.for_settings(settings)


def run_create(args, settings) -> int:
    record, key = _store(settings).create(args.name, args.role, args.collections)
    if args.json:
        print_json({"key": key, "key_id": record.key_id, "name": record.name, "role": record.role,
                    "collections": list(record.grants)})
        return 0
    print(key)
    import sys

    print(f"created {record.role} key {record.key_id} ('{record.name}') for {', '.join(record.grants)}; "
          "it is shown only now: keep it secret", file=sys.stderr)
    return 0


def run_list(args, settings) -> int:
    keys = _store(settings).list(include_revoked=args.all)
    if args.json:
        print_json([{"key_id": k.key_id, "name": k.name, "role": k.role, "collections": list(k.grants),
                     "created_at": k.created_at, "revoked_at": k.revoked_at} for k in keys])
    elif not keys:
        print("no API keys (the server requires none on loopback); create one with `rag keys create`")
    else:
        print_table(["id", "name", "role", "collections", "created", "revoked"],
                    [(k.key_id, k.name, k.role, ",".join(k.grants), k.created_at, k.revoked_at or "")
                     for k in keys])
    return 0


def run_revoke(args, settings) -> int:
    record = _store(settings).revoke(args.key_id)
    print(f"revoked key {record.key_id} ('{record.name}')")
    return 0
