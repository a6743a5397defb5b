"""When the store's connections plan their statements again: each time the messages table
has doubled since they last did, and at least once a minute (``MAX_AGE_S``).

The writer prepares its statements on first use (``pipeline.py``), a reader's psycopg
after one ran a few times, and PostgreSQL then keeps one generic plan for it for the
connection's life, made from the table's size at that moment.
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

The writer keeps its plans (``KEEP_PLANS``): left to choose, PostgreSQL planned most
of its statements again on every commit -- their arrays of one row made each fresh plan
look cheaper than the generic one, made for a hundred -- and that planning was a third
of the server's CPU on a commit of one message (a one-message commit with its marks:
server CPU 2.7-3.5 -> 1.9-2.3 ms here). A kept plan ages with the tables other than
``messages`` too (ten thousand peers registering into a small ``peers``): so plans are
also made again once they are ``MAX_AGE_S`` old, at the next commit.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Callable
from typing import Any

import psycopg

__all__ = ["KEEP_PLANS", "MAX_AGE_S", "PlanAges"]

_FIRST = 64
"""Below so many messages any plan is cheap: the first discard happens at twice this."""
MAX_AGE_S = 60.0
"""Plans are made again at least this often (seconds), whatever grew."""
KEEP_PLANS = "SET plan_cache_mode = force_generic_plan"
"""Run on the writer's session once connected: a prepared statement keeps its one plan
(see above). A statement, not a startup option: a connection pooler such as PgBouncer
refuses the ``options`` startup parameter."""


class PlanAges:
    """The generation of plans a connection should have, and the discards that bring a
    connection to it. Thread-safe: the writer reports sizes, any thread refreshes."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._lock = threading.Lock()
        self._clock = clock
        self._planned_at = _FIRST
        self._planned_when = clock()
        self.generation = 0
        """Raised each time the table doubled or the plans grew old: a connection
        planned in an older one discards its plans before its next statement."""
        self._seen: weakref.WeakKeyDictionary[psycopg.Connection[Any], int] = (
            weakref.WeakKeyDictionary()
        )

    def saw(self, messages: int) -> None:
        """The messages table holds about ``messages`` rows now (the last ``n``; 0: not
        known, a commit without appends)."""
        now = self._clock()
        with self._lock:
            doubled = messages >= 2 * self._planned_at
            if doubled or now - self._planned_when >= MAX_AGE_S:
                self._planned_at = max(self._planned_at, messages)
                self._planned_when = now
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
