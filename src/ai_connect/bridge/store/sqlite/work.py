"""The SQL of work status (docs/protocol.md §11), for ``SqliteStore``.

One row per peer address, replaced as a whole by the next status (schema version 6)::

    work_status  address PK, data (JSON of the status fields), ts (when the bridge got it)

Forgetting an address (``ForgetOp``, retention) deletes its row (:data:`FORGET`).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable

from ai_connect.bridge.store.base import WorkRecord
from ai_connect.bridge.store.rules import work_decoded, work_encoded

__all__ = ["FORGET", "SCHEMA", "load", "write"]

SCHEMA = (
    """CREATE TABLE work_status (
        address TEXT PRIMARY KEY, data TEXT NOT NULL, ts REAL NOT NULL
    ) WITHOUT ROWID""",
)
"""The migration that adds the table (``schema.MIGRATIONS``)."""
_UPSERT = (
    "INSERT INTO work_status (address, data, ts) VALUES (?, ?, ?)"
    " ON CONFLICT (address) DO UPDATE SET data = excluded.data, ts = excluded.ts"
)
_SELECT = "SELECT address, data, ts FROM work_status ORDER BY address"
FORGET = "DELETE FROM work_status WHERE address = ?"


def write(db: sqlite3.Connection, records: Iterable[WorkRecord]) -> None:
    """Upserts ``records`` inside the caller's transaction (the last of an address wins)."""
    rows = work_encoded(records)
    if rows:
        db.executemany(_UPSERT, [(a, text, ts) for a, (text, ts) in rows.items()])


def load(db: sqlite3.Connection) -> list[WorkRecord]:
    """Every stored work status, by address."""
    return [work_decoded(a, text, ts) for a, text, ts in db.execute(_SELECT).fetchall()]
