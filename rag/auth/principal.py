"""A :class:`Principal`: the caller of a request, with its role and grants."""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass

#: Roles, weakest first. reader: ask, retrieve and list what it is granted;
#: writer: also create, upload to and delete (documents of) granted collections; admin: everything.
ROLES = ("reader", "writer", "admin")


@dataclass(frozen=True)
class Principal:
    """Who is calling.

    Attributes:
        key_id: the key's public id (``anonymous`` when authentication is off).
        name: a label for logs.
        role: one of :data:`ROLES`.
        grants: collection names or shell patterns (``team-a-*``, ``*``) the key may use;
            an admin may use every collection whatever its grants.
    """

    key_id: str
    name: str
    role: str
    grants: tuple[str, ...] = ("*",)

    def _granted(self, collection: str) -> bool:
        return self.role == "admin" or any(fnmatch.fnmatchcase(collection, g) for g in self.grants)

    def can_read(self, collection: str) -> bool:
        """Ask, retrieve, list documents, see jobs and the collection itself."""
        return self._granted(collection)

    def can_write(self, collection: str) -> bool:
        """Upload and delete documents; create the collection."""
        return self.role in ("writer", "admin") and self._granted(collection)


#: The caller when authentication is off (loopback without keys, or turned off explicitly).
ANONYMOUS = Principal(key_id="anonymous", name="anonymous", role="admin")
