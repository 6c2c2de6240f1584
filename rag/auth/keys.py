"""API keys in SQLite (``HOME/auth/keys.sqlite3``), stored as sha256 hashes only.

A key is ``rag_<id>_<secret>``: the id is public (shown by ``rag keys list``, used to
revoke), the secret holds 256 random bits. Only the sha256 of the whole key is
stored: a high-entropy key needs no slow password hash, and a stolen file yields no
usable key. The key itself is shown once, when it is created.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import sqlite3
import threading
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from rag.auth.principal import ROLES, Principal
from rag.errors import InvalidInputError, NotFoundError

_SCHEMA = """
CREATE TABLE IF NOT EXISTS api_keys (
    key_id     TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    role       TEXT NOT NULL,
    grants     TEXT NOT NULL,
    key_sha256 TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL,
    revoked_at TEXT
)
"""
_COLUMNS = "key_id, name, role, grants, created_at, revoked_at"


@dataclass(frozen=True)
class ApiKey:
    """A stored key, without its secret."""

    key_id: str
    name: str
    role: str
    grants: tuple[str, ...]
    created_at: str
    revoked_at: str | None = None

    def principal(self) -> Principal:
        return Principal(key_id=self.key_id, name=self.name, role=self.role, grants=self.grants)


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


class KeyStore:
    """The key file of a RAG home.

    Args:
        path: the SQLite file; created (with its folder, private to the user) on first write.

    Example:
        >>> store = KeyStore(settings.home / "auth" / "keys.sqlite3")       # doctest: +SKIP
        >>> info, key = store.create("ci", "reader", ["handbook"])           # doctest: +SKIP
        >>> store.verify(key).can_read("handbook")                           # doctest: +SKIP
        True
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()

    @classmethod
    def for_settings(cls, settings) -> KeyStore:
        return cls(settings.home / "auth" / "keys.sqlite3")

    def _run(self, sql: str, params: tuple = (), *, create: bool = False) -> tuple[list[tuple], int]:
        """Run one statement in its own connection (closed after): (rows, rows changed).

        Without the file and ``create`` false, nothing is created: ([], 0).
        """
        with self._lock:
            if not self.path.exists():
                if not create:
                    return [], 0
                self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
                os.close(os.open(self.path, os.O_CREAT | os.O_WRONLY, 0o600))
            conn = sqlite3.connect(self.path, timeout=10)
            try:
                with conn:
                    conn.execute(_SCHEMA)
                    cursor = conn.execute(sql, params)
                    return cursor.fetchall(), cursor.rowcount
            finally:
                conn.close()

    # ------------------------------------------------------------------ management
    def create(self, name: str, role: str, grants: list[str] | None = None) -> tuple[ApiKey, str]:
        """Store a new key; returns its record and the key itself (shown only now).

        Args:
            name: a label (who or what uses the key).
            role: ``reader``, ``writer`` or ``admin``.
            grants: collection names or shell patterns; required unless the role is admin.
        """
        if role not in ROLES:
            raise InvalidInputError(f"unknown role '{role}' (choose from: {', '.join(ROLES)})")
        grants = [g.strip() for g in (grants or []) if g.strip()]
        if role == "admin":
            grants = grants or ["*"]
        elif not grants:
            raise InvalidInputError(f"a {role} key needs at least one collection grant (a name, a pattern or '*')")
        key_id = secrets.token_hex(4)
        key = f"rag_{key_id}_{secrets.token_urlsafe(32)}"
        record = ApiKey(key_id=key_id, name=name, role=role, grants=tuple(grants),
                        created_at=datetime.now(timezone.utc).isoformat(timespec="seconds"))
        self._run("INSERT INTO api_keys VALUES (?, ?, ?, ?, ?, ?, NULL)",
                  (key_id, name, role, json.dumps(list(grants)), key_hash(key), record.created_at), create=True)
        return record, key

    def list(self, include_revoked: bool = True) -> list[ApiKey]:
        """Every key, oldest first."""
        rows, _ = self._run(f"SELECT {_COLUMNS} FROM api_keys ORDER BY created_at, key_id")
        keys = [_record(row) for row in rows]
        return keys if include_revoked else [k for k in keys if k.revoked_at is None]

    def revoke(self, key_id: str) -> ApiKey:
        """Revoke a key by its id (or by the whole key); it stops working at once."""
        key_id = key_id.split("_")[1] if key_id.startswith("rag_") and key_id.count("_") >= 2 else key_id
        now = datetime.now(timezone.utc).isoformat(timespec="seconds")
        _, updated = self._run("UPDATE api_keys SET revoked_at = ? WHERE key_id = ? AND revoked_at IS NULL",
                               (now, key_id))
        if not updated:
            raise NotFoundError(f"no active API key with id '{key_id}' (see `rag keys list`)")
        return next(k for k in self.list() if k.key_id == key_id)

    # ------------------------------------------------------------------ checking
    def verify(self, key: str) -> Principal | None:
        """The principal of an active key, or None (unknown, malformed or revoked)."""
        if not key.startswith("rag_") or len(key) > 200:
            return None
        rows, _ = self._run(f"SELECT {_COLUMNS} FROM api_keys WHERE key_sha256 = ? AND revoked_at IS NULL",
                            (key_hash(key),))
        return _record(rows[0]).principal() if rows else None

    def has_active(self) -> bool:
        """Whether any key is active (then the API requires one, even on loopback)."""
        rows, _ = self._run("SELECT 1 FROM api_keys WHERE revoked_at IS NULL LIMIT 1")
        return bool(rows)


def _record(row) -> ApiKey:
    key_id, name, role, grants, created_at, revoked_at = row
    return ApiKey(key_id=key_id, name=name, role=role, grants=tuple(json.loads(grants)),
                  created_at=created_at, revoked_at=revoked_at)
