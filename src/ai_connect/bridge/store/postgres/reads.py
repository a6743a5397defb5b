"""The SQL of the reads of :class:`~ai_connect.bridge.store.postgres.PostgresStore`: a
mailbox page, history and search pages, the dead letters, peers, tokens, proposals. They
run on the readers' connections (never the writer's), each in its own snapshot.

Search matches the body's words (``rules.search_words``: lower case, accents dropped, as
SQLite's FTS5 ``unicode61 remove_diacritics 2`` and ``MemoryStore`` cut them) kept in the
GIN-indexed ``messages.words`` tsvector, against a tsquery of the query's words, each a
quoted lexeme joined by ``&``: quotes and operators in a query are words, never syntax.
"""

from __future__ import annotations

from ai_connect.bridge.store.postgres.batch import lexemes
from ai_connect.bridge.store.postgres.schema import COLUMNS, DELIVERED, SHOWN
from ai_connect.bridge.store.rules import search_words

__all__ = [
    "DEAD_LETTERS",
    "HISTORY",
    "LEASES",
    "NO_CURSOR",
    "PAGE_ALL",
    "PAGE_WITH_PEER",
    "PEERS",
    "PENDING",
    "PROPOSALS",
    "RECEIPTS",
    "SEARCH",
    "TOKENS",
    "WORKS",
    "tsquery",
]

NO_CURSOR = 2**63 - 1  # larger than any n

PEERS = (
    "SELECT address, name, project, first_seen, last_seen, tip, acked FROM peers"
    ' ORDER BY address COLLATE "C"'
)
PENDING = f"""
    SELECT b.seq, b.n, {COLUMNS} FROM mailbox b LEFT JOIN messages m ON m.n = b.n
    WHERE b.recipient = %s AND b.seq > %s ORDER BY b.seq LIMIT %s"""
# One statement, one snapshot: the message's columns on every row, then one recipient's
# marks (NULLs when it has none left). A mark in the entry's columns (before schema 7) is
# older than any in ``marks``; there, the entry's is the first range reaching its seq, if
# it starts below it (schema.SCHEMA_V7).
_FIRST_MARK = """
    LEFT JOIN LATERAL (
        SELECT x.lo, x.ts, x.path FROM marks x
        WHERE x.recipient = b.recipient AND x.kind = '{kind}' AND x.hi >= b.seq
        ORDER BY x.hi LIMIT 1) AS {alias} ON {alias}.lo < b.seq"""
RECEIPTS = f"""
    SELECT b.recipient, b.seq, coalesce(b.delivered, d.ts), coalesce(b.shown, s.ts),
           CASE WHEN b.shown IS NULL THEN s.path ELSE b.shown_path END, b.seq <= p.acked,
           {COLUMNS}
    FROM messages m LEFT JOIN (
        mailbox b JOIN peers p ON p.address = b.recipient
        {_FIRST_MARK.format(kind=DELIVERED, alias="d")}
        {_FIRST_MARK.format(kind=SHOWN, alias="s")}
    ) ON b.n = m.n
    WHERE m.id = %s ORDER BY b.recipient COLLATE "C"
"""
DEAD_LETTERS = """
    SELECT n, id, sender, target, recipients, body, ts, reason, moved FROM dead_letters
    ORDER BY moved DESC, n DESC LIMIT %s"""
PROPOSALS = 'SELECT id, data FROM proposals ORDER BY id COLLATE "C"'
LEASES = (
    "SELECT id, repo, path, holder, reason, created, expires, ttl, bound FROM leases"
    ' ORDER BY repo COLLATE "C", path COLLATE "C", id COLLATE "C"'
)
WORKS = 'SELECT address, data, ts FROM work_status ORDER BY address COLLATE "C"'
TOKENS = (
    "SELECT id, name, hash, names, admin, created, expires, revoked FROM tokens"
    ' ORDER BY created, id COLLATE "C"'
)
# Each branch walks one index newest first and stops after lim rows; the union merges.
PAGE_ALL = """
    (SELECT n FROM messages WHERE sender = %(viewer)s AND n < %(before)s
     ORDER BY n DESC LIMIT %(lim)s)
    UNION
    (SELECT n FROM mailbox WHERE recipient = %(viewer)s AND n < %(before)s
     ORDER BY n DESC LIMIT %(lim)s)"""
PAGE_WITH_PEER = """
    (SELECT n FROM messages m WHERE sender = %(viewer)s AND n < %(before)s
     AND EXISTS (SELECT 1 FROM mailbox b WHERE b.n = m.n AND b.recipient = %(peer)s)
     ORDER BY n DESC LIMIT %(lim)s)
    UNION
    (SELECT b.n FROM mailbox b JOIN messages m ON m.n = b.n
     WHERE b.recipient = %(viewer)s AND b.n < %(before)s AND m.sender = %(peer)s
     ORDER BY b.n DESC LIMIT %(lim)s)"""
HISTORY = f"""
    WITH page (n) AS ({{page}} ORDER BY n DESC LIMIT %(lim)s)
    SELECT m.n, {COLUMNS} FROM page JOIN messages m ON m.n = page.n ORDER BY m.n DESC"""
SEARCH = f"""
    SELECT m.n, {COLUMNS} FROM messages m
    WHERE m.words @@ %(query)s::tsquery AND m.n < %(before)s
    AND (m.sender = %(viewer)s OR EXISTS (
        SELECT 1 FROM mailbox b WHERE b.n = m.n AND b.recipient = %(viewer)s))
    ORDER BY m.n DESC LIMIT %(lim)s"""


def tsquery(query: str) -> str | None:
    """Plain words -> a tsquery matching all of them, each a quoted lexeme; ``None`` when
    nothing can match (no words, or a word too long to have been indexed)."""
    words = search_words(query)
    if not words or len(lexemes(" ".join(words))) != len(set(words)):
        return None
    return " & ".join(f"'{word}'" for word in dict.fromkeys(words))
