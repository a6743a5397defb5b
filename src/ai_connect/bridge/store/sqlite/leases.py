"""The SQL of file leases (issue 15, docs/leases.md), for ``SqliteStore``.

One table (schema version 5)::

    leases  id PK, repo, path, holder, reason, created, expires, ttl, bound
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
        ttl REAL NOT NULL, bound INTEGER NOT NULL
    ) WITHOUT ROWID""",
    "CREATE INDEX leases_by_repo ON leases (repo, path)",
)
_UPSERT = """
    INSERT INTO leases (id, repo, path, holder, reason, created, expires, ttl, bound)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT (id) DO UPDATE SET repo = excluded.repo, path = excluded.path,
        holder = excluded.holder, reason = excluded.reason, created = excluded.created,
        expires = excluded.expires, ttl = excluded.ttl, bound = excluded.bound"""
_DROP = "DELETE FROM leases WHERE id = ?"
_SELECT = (
    "SELECT id, repo, path, holder, reason, created, expires, ttl, bound FROM leases"
    " ORDER BY repo, path, id"
)


def write(
    db: sqlite3.Connection, leases: Iterable[LeaseRecord], drops: Iterable[LeaseDrop]
) -> None:
    """Upserts ``leases``, then removes ``drops``, inside the caller's transaction."""
    for x in leases:
        row = (x.id, x.repo, x.path, x.holder, x.reason, x.created, x.expires, x.ttl, x.bound)
        db.execute(_UPSERT, row)
    for drop in drops:
        db.execute(_DROP, (drop.id,))


def load(db: sqlite3.Connection) -> list[LeaseRecord]:
    """Every stored lease, by repository, path and id."""
    rows = db.execute(_SELECT).fetchall()
    return [LeaseRecord(i, r, p, h, w, c, e, t, bool(b)) for i, r, p, h, w, c, e, t, b in rows]
