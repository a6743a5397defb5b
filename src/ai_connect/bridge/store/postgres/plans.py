"""When the store's connections plan their statements again: each time the messages table
has doubled since they last did.

psycopg prepares a statement after it ran a few times, and PostgreSQL then keeps one
generic plan for it for the connection's life, made from the table's size at that moment.
A node starts on an empty or small database, so its first plans were made for a few rows:
the lookup of a batch's (sender, cid) keys in ``messages`` became a sequential scan
joined by hash, and it stayed one while the table grew (measured: the server's CPU per
message rose from 300 to 1,100 µs over the first 30,000 messages; bench/RESULTS.md). The
plans are not remade before autovacuum next analyses the table, up to a minute later and
again only when its thresholds are crossed.

``DISCARD PLANS`` drops a connection's cached plans and keeps its prepared statements:
the next executions plan again from the table as it is now. Doing it whenever the number
of messages (the last ``n``, which every commit of mail reads) doubled keeps each plan
within a factor of two of the table it runs on, for ``log2(messages)`` discards in all.
"""

from __future__ import annotations

import threading
import weakref
from typing import Any

import psycopg

__all__ = ["PlanAges"]

_FIRST = 64
"""Below so many messages any plan is cheap: the first discard happens at twice this."""


class PlanAges:
    """The generation of plans a connection should have, and the discards that bring a
    connection to it. Thread-safe: the writer reports sizes, any thread refreshes."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._planned_at = _FIRST
        self.generation = 0
        """Raised each time the table doubled: a connection planned in an older one
        discards its plans before its next statement."""
        self._seen: weakref.WeakKeyDictionary[psycopg.Connection[Any], int] = (
            weakref.WeakKeyDictionary()
        )

    def saw(self, messages: int) -> None:
        """The messages table holds about ``messages`` rows now (the last ``n``)."""
        with self._lock:
            if messages >= 2 * self._planned_at:
                self._planned_at = messages
                self.generation += 1

    def refresh(self, db: psycopg.Connection[Any]) -> None:
        """Discards ``db``'s plans if they are older than the current generation. Outside
        a transaction (the connections are in autocommit mode), between statements."""
        with self._lock:
            generation = self.generation
            seen = self._seen.get(db)
            self._seen[db] = generation
        if seen is not None and seen != generation:  # (a new connection has no plans)
            db.execute("DISCARD PLANS")
