"""The search index (FTS5 ``messages_fts``) kept behind the commits (issue 13).

Indexed in the commit that stores it, a message's body cost that commit a third of its
CPU here: FTS5 writes a new segment per transaction and merges them as they pile up
(bench/RESULTS.md). So a commit stores its messages unindexed, and the writer indexes
them in transactions of their own when it has nothing else to do
(:meth:`SqliteStore.upkeep <ai_connect.bridge.store.sqlite.SqliteStore.upkeep>`, called
by the bridge's store thread when it is idle): once ``INDEX_BATCH`` are waiting, or the
oldest has waited ``INDEX_DELAY_S``. A commit that finds more than ``INDEX_MOST`` waiting
(a writer never idle) indexes them itself, so the unindexed tail stays short, and so does
a commit of ``INDEX_IN_COMMIT`` messages or more: there the index's cost per transaction
is spread already (a throughput run's commits carry hundreds).

``search_index.upto`` (version 7, one row) is the last ``n`` indexed: every stored
message up to it is in the index, none after it. Search reads the index up to it and
matches the messages after it in Python with ``rules.search_words`` (the tokenizer's
rules, as MemoryStore does). The delete trigger takes out of the index only the messages
up to it: FTS5 must never be told to delete a row it does not hold (that corrupts an
external-content index). Messages are numbered ``max(n) + 1``, so once the newest are
deleted a number can come back: a commit that finds the newest stored ``n`` below
``upto`` lowers ``upto`` to it first (every message left up to there is indexed).
"""

from __future__ import annotations

import sqlite3

__all__ = [
    "INDEX_BATCH",
    "INDEX_CHUNK",
    "INDEX_DELAY_S",
    "INDEX_IN_COMMIT",
    "INDEX_MOST",
    "RETRY_S",
    "SCHEMA",
    "UPTO",
    "SearchIndex",
]

INDEX_BATCH = 512
"""Messages waiting that make indexing due at once (fewer wait up to ``INDEX_DELAY_S``)."""
INDEX_DELAY_S = 1.0
"""How long the oldest message waits for the index, at most, while the writer is idle."""
INDEX_MOST = 4096
"""Messages waiting beyond which a commit indexes them itself."""
INDEX_IN_COMMIT = 64
"""A commit that stores this many messages indexes them itself (with any waiting): in a
large commit the index's cost per transaction is spread already, and a transaction more
would only add to it (bench/search_index_bench.py)."""
INDEX_CHUNK = 1024
"""Messages indexed per idle transaction, at most (a commit queued meanwhile waits)."""
RETRY_S = 5.0
"""After a failed indexing transaction, the next try (search finds the messages meanwhile)."""

SCHEMA = (
    "CREATE TABLE search_index (id INTEGER PRIMARY KEY CHECK (id = 0), upto INTEGER NOT NULL)",
    # Until version 7 every commit indexed its messages: all of them are in the index.
    "INSERT INTO search_index (id, upto) SELECT 0, coalesce(max(n), 0) FROM messages",
    "DROP TRIGGER messages_fts_delete",
    """CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages
        WHEN old.n <= (SELECT upto FROM search_index) BEGIN
        INSERT INTO messages_fts (messages_fts, rowid, body) VALUES ('delete', old.n, old.body);
    END""",
)
"""Version 7 of the schema (store/sqlite/schema.py)."""

UPTO = "SELECT upto FROM search_index"
_NEWEST = "SELECT coalesce(max(n), 0) FROM messages"
_INDEX = (
    "INSERT INTO messages_fts (rowid, body) SELECT n, body FROM messages WHERE n > ? AND n <= ?"
)
_MOVE = "UPDATE search_index SET upto = ?"


class SearchIndex:
    """How far the index is, and when the writer should take it further. Used by the
    writer's thread only; its figures change only once a transaction committed."""

    def __init__(self, db: sqlite3.Connection, now: float) -> None:
        ((upto,),) = db.execute(UPTO).fetchall()
        ((newest,),) = db.execute(_NEWEST).fetchall()
        self.upto: int = int(upto)
        """The last ``n`` indexed (committed)."""
        self.newest: int = max(int(newest), self.upto)
        """The highest ``n`` stored, as far as this writer knows."""
        self.since: float | None = now if self.newest > self.upto else None
        """When the oldest message waiting for the index was stored (as far as known)."""
        self.retry_at: float | None = None
        """Not before then: an indexing transaction failed."""

    def due(self, now: float) -> float | None:
        """Seconds until indexing is due (0: now); ``None``: nothing waits."""
        if self.newest <= self.upto or self.since is None:
            return None
        at = now if self.newest - self.upto >= INDEX_BATCH else self.since + INDEX_DELAY_S
        if self.retry_at is not None:
            at = max(at, self.retry_at)
        return max(0.0, at - now)

    def in_commit(self, db: sqlite3.Connection, last_n: int, newest: int) -> int:
        """In the transaction of a commit that stored messages (``last_n``: the highest
        ``n`` before them, ``newest``: after): lowers ``upto`` below numbers given out
        again, indexes what waits if too much does; the new ``upto``."""
        upto = self.upto
        if last_n < upto:
            upto = last_n  # the newest were deleted: their numbers are given out again
        if newest - upto > INDEX_MOST or newest - last_n >= INDEX_IN_COMMIT:
            db.execute(_INDEX, (upto, newest))
            upto = newest
        if upto != self.upto:
            db.execute(_MOVE, (upto,))
        return upto

    def step(self, db: sqlite3.Connection) -> int:
        """In a transaction of its own: indexes up to ``INDEX_CHUNK`` waiting messages;
        the new ``upto``."""
        upto = min(self.newest, self.upto + INDEX_CHUNK)
        db.execute(_INDEX, (self.upto, upto))
        db.execute(_MOVE, (upto,))
        return upto

    def committed(self, upto: int, newest: int | None, now: float) -> None:
        """The transaction that moved ``upto`` (and stored up to ``newest``) committed."""
        waited = self.newest > self.upto
        if newest is not None:
            self.newest = max(self.newest, newest)
        self.upto = upto
        self.retry_at = None
        if self.newest <= upto:
            self.since = None
        elif not waited or self.since is None:
            self.since = now  # the first message waiting since everything was indexed

    def failed(self, now: float) -> None:
        """An indexing transaction failed: not again before ``RETRY_S``."""
        self.retry_at = now + RETRY_S
