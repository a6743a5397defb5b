"""Every stored row of an SQLite bridge database, table by table, as stored: for
``ai-connect admin migrate`` (its other half: ``store/postgres/load.py``).

Rows come out in the columns of :data:`TABLES`, message bodies and contexts as the bytes
on disk (a damaged message moves as it is, and stays detected as damaged), one row at a
time from a cursor: a database of any size is read in constant memory.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from typing import Any

from ai_connect.bridge.store.sqlite.schema import TIP

__all__ = ["TABLES", "rows"]

TABLES: dict[str, str] = {
    "peers": (
        "SELECT address, name, project, first_seen, last_seen,"
        f" {TIP.format(address='address')}, acked FROM peers"
    ),
    "messages": (
        "SELECT n, id, sender, cid, target, CAST(body AS BLOB), CAST(context AS BLOB),"
        " thread, reply_to, ts, checksum, human, receipt FROM messages ORDER BY n"
    ),
    "mailbox": "SELECT recipient, seq, n, delivered, shown, shown_path FROM mailbox",
    "tokens": "SELECT id, name, hash, names, admin, created, expires, revoked FROM tokens",
    "dead_letters": (
        "SELECT n, id, sender, target, recipients, CAST(body AS BLOB), CAST(context AS BLOB),"
        " thread, reply_to, ts, cid, checksum, reason, moved FROM dead_letters"
    ),
    "proposals": "SELECT id, data FROM proposals",
    "leases": "SELECT id, repo, path, holder, reason, created, expires, ttl, bound FROM leases",
    "work_status": "SELECT address, data, ts FROM work_status",
}
"""Table -> the query of its rows, in the order a copy must write them (messages before
the mailbox entries that point at them)."""


def rows(db: sqlite3.Connection, table: str) -> Iterator[tuple[Any, ...]]:
    """The rows of ``table`` (a key of :data:`TABLES`), one at a time."""
    cursor = db.execute(TABLES[table])
    try:
        yield from cursor
    finally:
        cursor.close()
