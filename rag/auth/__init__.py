"""Who may do what: API keys (stored hashed), roles and per-collection grants.

Used by the HTTP API (to authenticate and authorise each request) and by the CLI
(``rag keys create|list|revoke``). Only the standard library and the foundation are
imported, so both stay light.
"""

from __future__ import annotations

from rag.auth.keys import ApiKey, KeyStore
from rag.auth.policy import AuthDecision, auth_decision, is_loopback
from rag.auth.principal import ANONYMOUS, ROLES, Principal

__all__ = ["ANONYMOUS", "ROLES", "ApiKey", "AuthDecision", "KeyStore", "Principal", "auth_decision", "is_loopback"]
