"""The SQL of file leases (issue 15, docs/leases.md), for ``SqliteStore``.

One table (schema version 5)::

    leases  id PK, repo, path, holder, reason, created, expires, ttl
            index (repo, path): the leases of one repository, as the router loads them

Few rows that change one at a time (a claim, a renewal, a release): plain statements
inside the caller's transaction.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable

from ai_connect.bridge.store.base import LeaseDrop, LeaseRecord

__all__ = ["SCHEMA", "load", "write"]

SCHEMA = (
    """CREATE TABLE leases (
        id TEXT PRIMARY KEY, repo TEXT NOT NULL, path TEXT NOT NULL, holder TEXT NOT NULL,
        reason TEXT NOT NULL, created REAL NOT NULL, expires REAL NOT NULL,
        ttl REAL NOT NULL
    ) WITHOUT ROWID""",
    "CREATE INDEX leases_by_repo ON leases (repo, path)",
)
_UPSERT = """
    INSERT INTO leases (id, repo, path, holder, reason, created, expires, ttl)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT (id) DO UPDATE SET repo = excluded.repo, path = excluded.path,
        holder = excluded.holder, reason = excluded.reason, created = excluded.created,
        expires = excluded.expires, ttl = excluded.ttl"""
_DROP = "DELETE FROM leases WHERE id = ?"
_SELECT = (
    "SELECT id, repo, path, holder, reason, created, expires, ttl FROM leases"
    " ORDER BY repo, path, id"
)


def write(
    db: sqlite3.Connection, leases: Iterable[LeaseRecord], drops: Iterable[LeaseDrop]
) -> None:
    """Upserts ``leases``, then removes ``drops``, inside the caller's transaction."""
    for x in leases:
        db.execute(_UPSERT, (x.id, x.repo, x.path, x.holder, x.reason, x.created, x.expires, x.ttl))
    for drop in drops:
        db.execute(_DROP, (drop.id,))


def load(db: sqlite3.Connection) -> list[LeaseRecord]:
    """Every stored lease, by repository, path and id."""
    return [LeaseRecord(*row) for row in db.execute(_SELECT).fetchall()]
