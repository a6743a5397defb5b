"""The SQL of consensus proposals (docs/protocol.md §8), for ``SqliteStore``.

SQLite keeps them in one table (schema version 3 creates it; before, the first write did,
so the write still makes sure it exists)::

    proposals  id PK, data (JSON of the proposal with its ballots)

A proposal is small and changes as a whole (a vote rewrites its record), so it is one
row of JSON, replaced by id (the JSON text: :mod:`ai_connect.bridge.store.rules`).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable

from ai_connect.bridge.store.base import ProposalRecord
from ai_connect.bridge.store.rules import decoded, encoded

__all__ = ["load", "write"]

_CREATE = (
    "CREATE TABLE IF NOT EXISTS proposals (id TEXT PRIMARY KEY, data TEXT NOT NULL) WITHOUT ROWID"
)
_UPSERT = (
    "INSERT INTO proposals (id, data) VALUES (?, ?)"
    " ON CONFLICT (id) DO UPDATE SET data = excluded.data"
)
_SELECT = "SELECT id, data FROM proposals ORDER BY id"


def write(db: sqlite3.Connection, records: Iterable[ProposalRecord]) -> None:
    """Upserts ``records`` inside the caller's transaction."""
    rows = encoded(records)
    if rows:
        db.execute(_CREATE)
        db.executemany(_UPSERT, rows.items())


def load(db: sqlite3.Connection) -> list[ProposalRecord]:
    """Every stored proposal, by id."""
    return [decoded(i, text) for i, text in db.execute(_SELECT).fetchall()]
