"""The SQLite schema of :class:`~ai_connect.bridge.store.sqlite.SqliteStore`, and how a
message row reads back.

Version 2, kept in ``PRAGMA user_version``: ``MIGRATIONS[v]`` takes a database from
version ``v`` to ``v + 1``. The tables are described in :mod:`ai_connect.bridge.store.sqlite`.
"""

from __future__ import annotations

import json
from typing import Any

from ai_connect.bridge.store.base import StoredMessage
from ai_connect.bridge.store.sqlite.tokens import SCHEMA_V2

__all__ = ["COLUMNS", "MIGRATIONS", "SCHEMA_VERSION", "stored_message"]

SCHEMA_V1 = (
    """CREATE TABLE peers (
        address TEXT PRIMARY KEY, name TEXT NOT NULL, project TEXT NOT NULL,
        first_seen REAL NOT NULL, last_seen REAL NOT NULL,
        tip INTEGER NOT NULL DEFAULT 0, acked INTEGER NOT NULL DEFAULT 0
    ) WITHOUT ROWID""",
    """CREATE TABLE messages (
        n INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, sender TEXT NOT NULL,
        cid TEXT NOT NULL, target TEXT NOT NULL, body TEXT NOT NULL, context TEXT,
        thread TEXT, reply_to TEXT, ts REAL NOT NULL, UNIQUE (sender, cid)
    )""",
    "CREATE INDEX messages_by_sender ON messages (sender)",
    """CREATE TABLE mailbox (
        recipient TEXT NOT NULL, seq INTEGER NOT NULL,
        n INTEGER NOT NULL REFERENCES messages (n),
        PRIMARY KEY (recipient, seq)
    ) WITHOUT ROWID""",
    "CREATE INDEX mailbox_by_recipient ON mailbox (recipient, n)",
    "CREATE INDEX mailbox_by_message ON mailbox (n)",
    """CREATE VIRTUAL TABLE messages_fts USING fts5 (
        body, content='messages', content_rowid='n',
        tokenize='unicode61 remove_diacritics 2'
    )""",
    """CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages BEGIN
        INSERT INTO messages_fts (messages_fts, rowid, body) VALUES ('delete', old.n, old.body);
    END""",
)
MIGRATIONS: tuple[tuple[str, ...], ...] = (SCHEMA_V1, SCHEMA_V2)
SCHEMA_VERSION = len(MIGRATIONS)

COLUMNS = "m.id, m.sender, m.target, m.body, m.context, m.thread, m.reply_to, m.ts, m.cid"
"""The columns :func:`stored_message` reads, from ``messages m``."""


def stored_message(row: tuple[Any, ...]) -> StoredMessage:
    """A message from the ``COLUMNS`` of a row."""
    id_, sender, target, body, context, thread, reply_to, ts, cid = row
    loaded = None if context is None else json.loads(context)
    return StoredMessage(id_, sender, target, body, loaded, thread, reply_to, ts, cid)
