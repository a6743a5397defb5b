"""The SQLite schema of :class:`~ai_connect.bridge.store.sqlite.SqliteStore`, and how a
message row reads back.

Version 9, kept in ``PRAGMA user_version``: ``MIGRATIONS[v]`` takes a database from
version ``v`` to ``v + 1``. The tables are described in :mod:`ai_connect.bridge.store.sqlite`.

Version 9 (issue 13) changes what ``peers.tip`` means, not a table: it is a floor of the
mailbox's tip (:data:`TIP`), no longer written with every message. A broadcast to 500
read and rewrote 500 peers rows for it, a third of its commit (3.4 → 2.1 ms with the
store alone). The writer keeps the tips it gave out in memory; the column is raised to
the mailbox's last seq before entries may be deleted (retention, a bury), so the tip
never goes back and no seq is given out twice. A version 8 database upgrades as it is
(its tips are exact, so floors); the version stops an older ai-connect, which would
take the floor for the tip, from opening it.

Version 8 (issue 13) keeps one index of the mailbox by recipient, not two: its key
``(recipient, seq)``. Each index ordered by recipient costs a broadcast one page per
recipient (a broadcast to 500 wrote 265 pages to the WAL with two, 149 with one; its
commit took 4.8 ms, now 3.7). The history walks that key instead of ``(recipient, n)``:
a mailbox's seqs rise with its messages' ``n`` (store/rules.py ``numbered``). The index
by message, ``(n)``, holds the key too (as every index of a ``WITHOUT ROWID`` table), so
"is this message in that mailbox" stays one lookup (search, history with a peer).

Version 7 (issue 13) indexes messages for search after their commit: the
``search_index`` table says how far, the delete trigger skips what is not indexed yet
(:mod:`ai_connect.bridge.store.sqlite.search_index`).

Version 6 (issue 15) adds the ``work_status`` table: each peer's last work status
(:mod:`ai_connect.bridge.store.sqlite.work`, docs/protocol.md §11).

Version 5 (issue 15) adds the ``leases`` table: advisory file leases
(:mod:`ai_connect.bridge.store.sqlite.leases`).

Version 4 (issue 12) marks messages sent by a person (``messages.human``) and those
whose sender wants receipts (``messages.receipt``), and keeps
each mailbox entry's receipt: when it was first delivered to a connection
(``mailbox.delivered``), when it was shown (acked) and by which path (``shown``,
``shown_path``).

Version 3 (issue 11) adds a checksum to every message (CRC-32 of its body and context as
stored; rows stored before get theirs during the upgrade), the ``dead_letters`` table
that damaged messages are moved to, an index by time for retention, and the
``proposals`` table (before: created on first use).
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterable, Sequence
from typing import Any

from ai_connect.bridge.store.base import (
    DeadLetter,
    MailboxEntry,
    Receipts,
    RecipientMarks,
    StoredMessage,
    message_bytes,
)
from ai_connect.bridge.store.sqlite import search_index, work
from ai_connect.bridge.store.sqlite.leases import SCHEMA as SCHEMA_V5
from ai_connect.bridge.store.sqlite.tokens import SCHEMA_V2

__all__ = [
    "CHECKSUM_FUNCTION",
    "COLUMNS",
    "MIGRATIONS",
    "SCHEMA_VERSION",
    "TIP",
    "Damaged",
    "checksum",
    "dead_letter",
    "mailbox_entries",
    "placeholder",
    "receipts_of",
    "stored_message",
]

CHECKSUM_FUNCTION = "ai_connect_checksum"
"""The SQL name of :func:`checksum`, registered on the writer's connection (the upgrade
to version 3 computes the checksums of the rows already stored with it)."""


class Damaged(ValueError):
    """A stored message cannot be read back as it was stored; ``str()`` says why."""


def checksum(body: bytes | None, context: bytes | None) -> int:
    """CRC-32 of a message's body and context as stored (UTF-8; the context's JSON)."""
    value = zlib.crc32(body or b"")
    return zlib.crc32(b"\0" + context, value) if context is not None else value


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
SCHEMA_V3 = (
    "ALTER TABLE messages ADD COLUMN checksum INTEGER",
    f"""UPDATE messages
        SET checksum = {CHECKSUM_FUNCTION}(CAST(body AS BLOB), CAST(context AS BLOB))""",
    "CREATE INDEX messages_by_ts ON messages (ts)",
    """CREATE TABLE dead_letters (
        n INTEGER PRIMARY KEY, id TEXT, sender TEXT, target TEXT, recipients TEXT,
        body BLOB, context BLOB, thread TEXT, reply_to TEXT, ts, cid TEXT, checksum,
        reason TEXT NOT NULL, moved REAL NOT NULL
    )""",
    "CREATE TABLE IF NOT EXISTS proposals (id TEXT PRIMARY KEY, data TEXT NOT NULL) WITHOUT ROWID",
)
SCHEMA_V4 = (
    "ALTER TABLE messages ADD COLUMN human INTEGER NOT NULL DEFAULT 0",
    "ALTER TABLE messages ADD COLUMN receipt INTEGER NOT NULL DEFAULT 0",
    "ALTER TABLE mailbox ADD COLUMN delivered REAL",
    "ALTER TABLE mailbox ADD COLUMN shown REAL",
    "ALTER TABLE mailbox ADD COLUMN shown_path TEXT",
)
SCHEMA_V8 = ("DROP INDEX IF EXISTS mailbox_by_recipient",)
SCHEMA_V9: tuple[str, ...] = ()  # peers.tip becomes a floor (above); nothing to change
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    SCHEMA_V1,
    SCHEMA_V2,
    SCHEMA_V3,
    SCHEMA_V4,
    SCHEMA_V5,
    work.SCHEMA,  # version 6: the work status table (docs/protocol.md §11)
    search_index.SCHEMA,  # version 7: the search index kept behind the commits
    SCHEMA_V8,
    SCHEMA_V9,
)
SCHEMA_VERSION = len(MIGRATIONS)

TIP = "max(tip, coalesce((SELECT max(seq) FROM mailbox WHERE recipient = {address}), 0))"
"""A peer's tip, the last seq given out in its mailbox, read from ``peers`` (version 9):
the column ``tip`` is a floor, and above it the mailbox's last entry (one lookup of the
key). ``{address}``: the column or parameter that names the peer."""

COLUMNS = (
    "m.id, m.sender, m.target, CAST(m.body AS BLOB), CAST(m.context AS BLOB), m.thread,"
    " m.reply_to, m.ts, m.cid, m.checksum, m.human, m.receipt"
)
"""The columns :func:`stored_message` reads, from ``messages m``: body and context as
the bytes on disk, so that a damaged one is told apart rather than failing the query."""


_NUMBER = (float, int)


def stored_message(row: tuple[Any, ...]) -> StoredMessage:
    """A message from the ``COLUMNS`` of a row; :class:`Damaged` if it is not as stored."""
    id_, sender, target, body, context, thread, reply_to, ts, cid, stored_sum, human, receipt = row
    if id_ is None:
        raise Damaged("its message row is missing")
    if stored_sum is not None and checksum(body, context) != stored_sum:
        raise Damaged("its body or context does not match its checksum")
    try:
        text = body.decode() if isinstance(body, bytes) else body
        loaded = None if context is None else json.loads(context.decode())
        if not isinstance(text, str) or not (loaded is None or isinstance(loaded, dict)):
            raise TypeError("not text and a JSON object")
        message = StoredMessage(
            id_, sender, target, text, loaded, thread, reply_to, ts, cid, bool(human), bool(receipt)
        )
        if not (
            isinstance(ts, _NUMBER)
            and isinstance(id_, str)
            and isinstance(sender, str)
            and isinstance(target, str)
            and isinstance(cid, str)
        ):
            raise TypeError("a field of the wrong type")
    except (UnicodeDecodeError, ValueError, TypeError, AttributeError) as exc:
        raise Damaged(f"it cannot be read ({exc})") from exc
    return message


def _text(value: Any) -> str:
    """A column as text, whatever it holds (undecodable bytes replaced)."""
    if value is None:
        return ""
    if isinstance(value, bytes):
        return value.decode(errors="replace")
    return str(value)


def placeholder(row: list[Any] | tuple[Any, ...]) -> StoredMessage:
    """What can be read of a damaged message's ``COLUMNS`` (for logs and dead letters)."""
    id_, sender, target, _body, _context, _thread, _reply_to, ts, cid, *_ = row
    when = float(ts) if isinstance(ts, float | int) else 0.0
    return StoredMessage(
        _text(id_), _text(sender), _text(target), "", None, None, None, when, _text(cid)
    )


def dead_letter(row: tuple[Any, ...]) -> DeadLetter:
    """A row of ``dead_letters`` (n, id, sender, target, recipients, body, ts, reason, moved)."""
    n, id_, sender, target, recipients, body, ts, reason, moved = row
    try:
        to: tuple[str, ...] = tuple(json.loads(recipients or "[]"))
    except ValueError:
        to = ()
    when = float(ts) if isinstance(ts, float | int) else None
    return DeadLetter(
        n, _text(id_), _text(sender), _text(target), to, _text(body), when, reason, moved
    )


def mailbox_entries(
    recipient: str, rows: Iterable[Sequence[Any]], max_bytes: int
) -> list[MailboxEntry]:
    """A mailbox page from ``(seq, n, *COLUMNS)`` rows (SQLite's and PostgreSQL's
    ``PENDING``), cut at about ``max_bytes``; a damaged entry is kept, marked, to be moved
    aside (``Store.pending``)."""
    entries: list[MailboxEntry] = []
    total = 0
    for row in rows:
        seq, n, columns = row[0], row[1], tuple(row[2:])
        try:
            message = stored_message(columns)
        except Damaged as damage:
            entries.append(MailboxEntry(recipient, seq, placeholder(columns), str(damage), n))
            continue
        total += message_bytes(message)
        if entries and total > max_bytes:
            break
        entries.append(MailboxEntry(recipient, seq, message, None, n))
    return entries


def receipts_of(rows: Sequence[Sequence[Any]]) -> Receipts | None:
    """A message's receipts from ``RECEIPTS`` rows: six mark columns, then the message's
    ``COLUMNS`` on every row; ``None`` for no such message (or a damaged one)."""
    if not rows:
        return None
    try:
        message = stored_message(tuple(rows[0][6:]))
    except Damaged:
        return None
    marks = tuple(
        RecipientMarks(r, s, d, shown, path, bool(a))
        for r, s, d, shown, path, a, *_ in rows
        if r is not None
    )
    return Receipts(message, marks)
