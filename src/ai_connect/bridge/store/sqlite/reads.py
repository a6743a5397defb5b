"""The SQL of the reads of :class:`~ai_connect.bridge.store.sqlite.SqliteStore`: a mailbox
page, history and search pages, the dead letters. They run on the readers' connections
(never the writer's) and read message rows through :data:`schema.COLUMNS`.
"""

from __future__ import annotations

import sqlite3

from ai_connect.bridge.store.rules import search_words
from ai_connect.bridge.store.sqlite.schema import COLUMNS

__all__ = [
    "DEAD_LETTERS",
    "HISTORY",
    "MESSAGES",
    "NO_CURSOR",
    "PAGE_ALL",
    "PAGE_WITH_PEER",
    "PENDING",
    "RECEIPTS",
    "SEARCH",
    "SEARCH_TAIL",
    "fts_query",
    "seq_before",
]

NO_CURSOR = 2**63 - 1  # larger than any rowid

PENDING = f"""
    SELECT b.seq, b.n, {COLUMNS} FROM mailbox b LEFT JOIN messages m ON m.n = b.n
    WHERE b.recipient = ? AND b.seq > ? ORDER BY b.seq LIMIT ?"""
# One statement, one snapshot: the message's columns on every row, then one recipient's
# marks (NULLs when it has none left).
# (Its entries found by n, each with its peer: not a join of the whole mailbox with the
# peers, which the planner made for ``LEFT JOIN (mailbox JOIN peers)``: 58 ms at 90,000
# entries.)
RECEIPTS = f"""
    SELECT b.recipient, b.seq, b.delivered, b.shown, b.shown_path, b.seq <= p.acked, {COLUMNS}
    FROM messages m
    LEFT JOIN mailbox b
        ON b.n = m.n AND EXISTS (SELECT 1 FROM peers q WHERE q.address = b.recipient)
    LEFT JOIN peers p ON p.address = b.recipient
    WHERE m.id = ? ORDER BY b.recipient"""
DEAD_LETTERS = """
    SELECT n, id, sender, target, recipients, body, ts, reason, moved FROM dead_letters
    ORDER BY moved DESC, n DESC LIMIT ?"""
# Each branch walks one index newest first and stops after :lim rows; the union merges.
# The mailbox is walked by its key (recipient, seq), from :seq (the last of its entries
# before the cursor, :func:`seq_before`) down: a mailbox's seqs rise with the n of its
# messages, so that is newest first (schema.py, version 8).
PAGE_ALL = """
    SELECT n FROM (SELECT n FROM messages WHERE sender = :viewer AND n < :before
                   ORDER BY n DESC LIMIT :lim)
    UNION
    SELECT n FROM (SELECT n FROM mailbox WHERE recipient = :viewer AND seq <= :seq
                   AND n < :before ORDER BY seq DESC LIMIT :lim)"""
PAGE_WITH_PEER = """
    SELECT n FROM (SELECT n FROM messages m WHERE sender = :viewer AND n < :before
                   AND EXISTS (SELECT 1 FROM mailbox b WHERE b.n = m.n AND b.recipient = :peer)
                   ORDER BY n DESC LIMIT :lim)
    UNION
    SELECT n FROM (SELECT b.n FROM mailbox b JOIN messages m ON m.n = b.n
                   WHERE b.recipient = :viewer AND b.seq <= :seq AND b.n < :before
                   AND m.sender = :peer ORDER BY b.seq DESC LIMIT :lim)"""
_LAST_SEQ = "SELECT max(seq) FROM mailbox WHERE recipient = ?"
_AT_OR_BELOW = (
    "SELECT seq, n FROM mailbox WHERE recipient = ? AND seq <= ? ORDER BY seq DESC LIMIT 1"
)
HISTORY = f"""
    WITH page (n) AS ({{page}} ORDER BY n DESC LIMIT :lim)
    SELECT m.n, {COLUMNS} FROM page JOIN messages m ON m.n = page.n ORDER BY m.n DESC"""
SEARCH = f"""
    SELECT m.n, {COLUMNS} FROM messages_fts JOIN messages m ON m.n = messages_fts.rowid
    WHERE messages_fts MATCH :query AND messages_fts.rowid < :before
    AND (m.sender = :viewer OR EXISTS (
        SELECT 1 FROM mailbox b WHERE b.n = m.n AND b.recipient = :viewer))
    ORDER BY messages_fts.rowid DESC LIMIT :lim"""
# The visible messages not in the index yet (after :upto, search_index.py), newest first,
# by their bodies only: search matches their words in Python, then reads the whole rows of
# those that match (MESSAGES). A few hundred at most, read one at a time.
SEARCH_TAIL = """
    SELECT m.n, CAST(m.body AS BLOB) FROM messages m WHERE m.n > :upto AND m.n < :before
    AND (m.sender = :viewer OR EXISTS (
        SELECT 1 FROM mailbox b WHERE b.n = m.n AND b.recipient = :viewer))
    ORDER BY m.n DESC"""
MESSAGES = f"""
    SELECT m.n, {COLUMNS} FROM messages m WHERE m.n IN (SELECT value FROM json_each(?))
    ORDER BY m.n DESC"""


def seq_before(db: sqlite3.Connection, recipient: str, before: int) -> int:
    """Where ``recipient``'s mailbox entries before the cursor end: those with a seq up
    to it are exactly those whose message's ``n`` is below ``before`` (``NO_CURSOR``: no
    cursor). A binary search over the mailbox's key, one lookup a step: its seqs rise
    with their ``n``."""
    if before >= NO_CURSOR:
        return NO_CURSOR
    # Every entry up to ``low`` is before the cursor, none after ``high``.
    ((high,),) = db.execute(_LAST_SEQ, (recipient,)).fetchall()
    low, high = 0, high or 0
    while low < high:
        middle = (low + high + 1) // 2
        row = db.execute(_AT_OR_BELOW, (recipient, middle)).fetchone()
        if row is None or row[0] <= low or row[1] < before:
            low = middle  # nothing between, or all up to it before the cursor
        else:
            high = row[0] - 1  # this one and all after it are not
    return low


def fts_query(query: str) -> str:
    """Plain words -> an FTS5 query matching all of them, each quoted as a literal."""
    return " AND ".join('"' + word.replace('"', '""') + '"' for word in search_words(query))
