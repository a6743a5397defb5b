"""The SQL of the reads of :class:`~ai_connect.bridge.store.sqlite.SqliteStore`: a mailbox
page, history and search pages, the dead letters. They run on the readers' connections
(never the writer's) and read message rows through :data:`schema.COLUMNS`.
"""

from __future__ import annotations

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
]

NO_CURSOR = 2**63 - 1  # larger than any rowid

PENDING = f"""
    SELECT b.seq, b.n, {COLUMNS} FROM mailbox b LEFT JOIN messages m ON m.n = b.n
    WHERE b.recipient = ? AND b.seq > ? ORDER BY b.seq LIMIT ?"""
# One statement, one snapshot: the message's columns on every row, then one recipient's
# marks (NULLs when it has none left).
RECEIPTS = f"""
    SELECT b.recipient, b.seq, b.delivered, b.shown, b.shown_path, b.seq <= p.acked, {COLUMNS}
    FROM messages m LEFT JOIN (mailbox b JOIN peers p ON p.address = b.recipient) ON b.n = m.n
    WHERE m.id = ? ORDER BY b.recipient"""
DEAD_LETTERS = """
    SELECT n, id, sender, target, recipients, body, ts, reason, moved FROM dead_letters
    ORDER BY moved DESC, n DESC LIMIT ?"""
# Each branch walks one index newest first and stops after :lim rows; the union merges.
PAGE_ALL = """
    SELECT n FROM (SELECT n FROM messages WHERE sender = :viewer AND n < :before
                   ORDER BY n DESC LIMIT :lim)
    UNION
    SELECT n FROM (SELECT n FROM mailbox WHERE recipient = :viewer AND n < :before
                   ORDER BY n DESC LIMIT :lim)"""
PAGE_WITH_PEER = """
    SELECT n FROM (SELECT n FROM messages m WHERE sender = :viewer AND n < :before
                   AND EXISTS (SELECT 1 FROM mailbox b WHERE b.n = m.n AND b.recipient = :peer)
                   ORDER BY n DESC LIMIT :lim)
    UNION
    SELECT n FROM (SELECT b.n FROM mailbox b JOIN messages m ON m.n = b.n
                   WHERE b.recipient = :viewer AND b.n < :before AND m.sender = :peer
                   ORDER BY b.n DESC LIMIT :lim)"""
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


def fts_query(query: str) -> str:
    """Plain words -> an FTS5 query matching all of them, each quoted as a literal."""
    return " AND ".join('"' + word.replace('"', '""') + '"' for word in search_words(query))
