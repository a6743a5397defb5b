"""The SQL of the auth tokens table, for :class:`~ai_connect.bridge.store.sqlite.SqliteStore`.

Schema version 2 adds it (``sqlite._MIGRATIONS``)::

    tokens  id PK, name, hash UNIQUE (SHA-256 hex of the token), names (JSON array of
            patterns), admin (0/1), created, expires (NULL: never), revoked (NULL: live)

Tokens are written by ``ai-connect token`` from another process than the bridge's; the
bridge re-reads them every few seconds (docs/security.md). The token itself is never
stored.
"""

from __future__ import annotations

import json
from typing import Any

from ai_connect.bridge.store.base import TokenRecord

__all__ = ["INSERT", "REVOKE", "SCHEMA_V2", "SELECT", "record", "row"]

SCHEMA_V2 = (
    """CREATE TABLE tokens (
        id TEXT PRIMARY KEY, name TEXT NOT NULL, hash TEXT NOT NULL UNIQUE,
        names TEXT NOT NULL, admin INTEGER NOT NULL DEFAULT 0, created REAL NOT NULL,
        expires REAL, revoked REAL
    ) WITHOUT ROWID""",
)
SELECT = (
    "SELECT id, name, hash, names, admin, created, expires, revoked FROM tokens"
    " ORDER BY created, id"
)
INSERT = """
    INSERT INTO tokens (id, name, hash, names, admin, created, expires, revoked)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?)"""
REVOKE = "UPDATE tokens SET revoked = ? WHERE id = ? AND revoked IS NULL"


def row(token: TokenRecord) -> tuple[Any, ...]:
    """The columns of ``token`` for ``INSERT``."""
    names = json.dumps(list(token.names), ensure_ascii=False)
    return (token.id, token.name, token.hash, names, int(token.admin), token.created,
            token.expires, token.revoked)  # fmt: skip


def record(columns: tuple[Any, ...]) -> TokenRecord:
    """A token from the columns of ``SELECT``."""
    id_, name, hash_, names, admin, created, expires, revoked = columns
    patterns = tuple(str(p) for p in json.loads(names))
    return TokenRecord(id_, name, hash_, patterns, bool(admin), created, expires, revoked)
