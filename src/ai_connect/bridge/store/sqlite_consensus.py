"""Storage of consensus proposals (docs/protocol.md §8), for both stores.

SQLite keeps them in one table, created on first use (no schema version needed: the
table is independent of the others)::

    proposals  id PK, data (JSON of the proposal with its ballots)

A proposal is small and changes as a whole (a vote rewrites its record), so it is one
row of JSON, replaced by id. ``MemoryStore`` keeps the same JSON text, so both stores
refuse the same unserialisable data.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable

from ai_connect.errors import StoreError

from .base import ProposalRecord

__all__ = ["decoded", "encoded", "load", "write"]

_CREATE = (
    "CREATE TABLE IF NOT EXISTS proposals (id TEXT PRIMARY KEY, data TEXT NOT NULL) WITHOUT ROWID"
)
_UPSERT = (
    "INSERT INTO proposals (id, data) VALUES (?, ?)"
    " ON CONFLICT (id) DO UPDATE SET data = excluded.data"
)
_SELECT = "SELECT id, data FROM proposals ORDER BY id"


def encoded(records: Iterable[ProposalRecord]) -> dict[str, str]:
    """Id -> JSON text of each record (the last of an id wins); ``StoreError`` if one
    cannot be serialised, before anything is written."""
    out: dict[str, str] = {}
    for record in records:
        try:
            out[record.id] = json.dumps(record.data, ensure_ascii=False, separators=(",", ":"))
            out[record.id].encode()
        except (TypeError, ValueError) as exc:
            raise StoreError(
                f"Proposal {record.id!r} cannot be stored ({exc}); nothing of this batch "
                "was stored. Attach text and JSON-serialisable context only."
            ) from exc
    return out


def decoded(proposal_id: str, text: str) -> ProposalRecord:
    return ProposalRecord(proposal_id, json.loads(text))


def write(db: sqlite3.Connection, records: Iterable[ProposalRecord]) -> None:
    """Upserts ``records`` inside the caller's transaction."""
    rows = encoded(records)
    if rows:
        db.execute(_CREATE)
        db.executemany(_UPSERT, rows.items())


def load(db: sqlite3.Connection) -> list[ProposalRecord]:
    """Every stored proposal, by id."""
    db.execute(_CREATE)
    return [decoded(i, text) for i, text in db.execute(_SELECT).fetchall()]
