"""The PostgreSQL schema of :class:`~ai_connect.bridge.store.postgres.PostgresStore`.

Versioned like SQLite's (``store/sqlite/schema.py``): ``MIGRATIONS[v]`` takes a database
from version ``v`` to ``v + 1``; the version is the one row of ``ai_connect_schema``.
Nodes that start together on an empty database migrate one at a time (an advisory lock:
``MIGRATE_LOCK``), so that each statement runs once.

Version 1 holds what SQLite's version 3 holds, in the same shape::

    peers     address PK, name, project, first_seen, last_seen, tip, acked
    messages  n PK (the history cursor), id UNIQUE, sender, cid, target, body and context
              (bytea: the UTF-8 bytes and JSON text exactly as sent, NUL included, which
              a PostgreSQL text cannot hold), thread, reply_to, ts, checksum (CRC-32 of
              body and context, as SQLite's), words (tsvector: the body's search words,
              ``rules.search_words``, GIN-indexed); UNIQUE (sender, cid); indexed by ts
    mailbox   (recipient, seq) PK -> n; indexed by (recipient, n) and by n
    tokens    auth tokens, hashed (as SQLite's: sqlite/tokens.py)
    dead_letters  damaged messages moved aside, as far as they read
    proposals id PK, data (JSON text of a proposal with its ballots)

Version 2 adds ``nodes`` (node id, URL, started, beat: the database's clock at its last
heartbeat) and ``sessions`` (address PK -> the node holding it and the client's session
id), written by each node's heartbeat: a session counts as online while its node's
heartbeat is fresh.

Version 5 adds ``work_status`` (address PK, data: JSON of the status, ts), as SQLite's
version 6 (docs/protocol.md §11).

Version 3 adds receipts and the person's mark, as SQLite's version 4: ``messages.human``,
``messages.receipt``, ``mailbox.delivered``, ``mailbox.shown``, ``mailbox.shown_path``;
version 7 keeps new marks as ranges in ``marks`` instead (:data:`SCHEMA_V7`).

Message rows read back through :data:`COLUMNS` and SQLite's
:func:`~ai_connect.bridge.store.sqlite.schema.stored_message`: the same checks (checksum,
UTF-8, JSON object) decide alike whether a message is damaged.
"""

from __future__ import annotations

__all__ = [
    "COLUMNS",
    "DELIVERED",
    "MIGRATE_LOCK",
    "MIGRATIONS",
    "SCHEMA_VERSION",
    "SHOWN",
    "WRITE_LOCK",
]

MIGRATE_LOCK = 0x61_69_63_6F_6E_01  # "aicon" 1: pg_advisory_xact_lock key while migrating
WRITE_LOCK = 0x61_69_63_6F_6E_02
"""Advisory lock key each commit takes first: commits of every node on one database run
one at a time, as SQLite's ``BEGIN IMMEDIATE`` makes them (mailbox numbering reads the
tips and the last ``n`` and writes after them)."""

SCHEMA_V1 = (
    """CREATE TABLE peers (
        address text PRIMARY KEY, name text NOT NULL, project text NOT NULL,
        first_seen double precision NOT NULL, last_seen double precision NOT NULL,
        tip bigint NOT NULL DEFAULT 0, acked bigint NOT NULL DEFAULT 0
    )""",
    """CREATE TABLE messages (
        n bigint PRIMARY KEY, id text NOT NULL UNIQUE, sender text NOT NULL,
        cid text NOT NULL, target text NOT NULL, body bytea NOT NULL, context bytea,
        thread text, reply_to text, ts double precision NOT NULL, checksum bigint,
        words tsvector NOT NULL, UNIQUE (sender, cid)
    )""",
    "CREATE INDEX messages_by_sender ON messages (sender, n)",
    "CREATE INDEX messages_by_ts ON messages (ts)",
    "CREATE INDEX messages_by_words ON messages USING gin (words)",
    """CREATE TABLE mailbox (
        recipient text NOT NULL, seq bigint NOT NULL, n bigint NOT NULL REFERENCES messages (n),
        PRIMARY KEY (recipient, seq)
    )""",
    "CREATE INDEX mailbox_by_recipient ON mailbox (recipient, n)",
    "CREATE INDEX mailbox_by_message ON mailbox (n)",
    """CREATE TABLE tokens (
        id text PRIMARY KEY, name text NOT NULL, hash text NOT NULL UNIQUE,
        names text NOT NULL, admin integer NOT NULL DEFAULT 0,
        created double precision NOT NULL, expires double precision,
        revoked double precision
    )""",
    """CREATE TABLE dead_letters (
        n bigint PRIMARY KEY, id text, sender text, target text, recipients text,
        body bytea, context bytea, thread text, reply_to text, ts double precision,
        cid text, checksum bigint, reason text NOT NULL, moved double precision NOT NULL
    )""",
    "CREATE TABLE proposals (id text PRIMARY KEY, data text NOT NULL)",
)
SCHEMA_V2 = (
    """CREATE TABLE nodes (
        node text PRIMARY KEY, url text NOT NULL, started double precision NOT NULL,
        beat double precision NOT NULL
    )""",
    """CREATE TABLE sessions (
        address text PRIMARY KEY, node text NOT NULL, session text
    )""",
    "CREATE INDEX sessions_by_node ON sessions (node)",
)
"""Version 2: the nodes' heartbeats and the sessions each holds (cluster-wide presence)."""
SCHEMA_V3 = (
    "ALTER TABLE messages ADD COLUMN human boolean NOT NULL DEFAULT false",
    "ALTER TABLE messages ADD COLUMN receipt boolean NOT NULL DEFAULT false",
    "ALTER TABLE mailbox ADD COLUMN delivered double precision",
    "ALTER TABLE mailbox ADD COLUMN shown double precision",
    "ALTER TABLE mailbox ADD COLUMN shown_path text",
)
"""Version 3, SQLite's version 4 (docs/protocol.md §3.7, §9.3): messages sent by a person
(``human``) or whose sender wants receipts (``receipt``); each mailbox entry's marks:
first delivered to a connection, shown (acked) and by which path."""
SCHEMA_V4 = (
    """CREATE TABLE leases (
        id text PRIMARY KEY, repo text NOT NULL, path text NOT NULL, holder text NOT NULL,
        reason text NOT NULL, created double precision NOT NULL,
        expires double precision NOT NULL, ttl double precision NOT NULL,
        bound boolean NOT NULL
    )""",
    'CREATE INDEX leases_by_repo ON leases (repo COLLATE "C", path COLLATE "C")',
)
"""Version 4, SQLite's version 5 (issue 15, docs/protocol.md §10): advisory file leases."""
SCHEMA_V5 = (
    """CREATE TABLE work_status (
        address text PRIMARY KEY, data text NOT NULL, ts double precision NOT NULL
    )""",
)
"""Version 5, SQLite's version 6 (docs/protocol.md §11): each peer's last work status."""
SCHEMA_V6 = ("ALTER TABLE sessions ADD COLUMN since double precision NOT NULL DEFAULT 0",)
"""Version 6: when each session's hello registered it on its node (wall clock): the latest
hello of a session holds its address (bridge/cluster.py)."""
SCHEMA_V7 = (
    """CREATE TABLE marks (
        recipient text NOT NULL, kind text NOT NULL, lo bigint NOT NULL, hi bigint NOT NULL,
        ts double precision NOT NULL, path text, PRIMARY KEY (recipient, kind, hi)
    )""",
)
"""Version 7: receipt marks as ranges. A commit's delivery marks and shown marks each add
one row per recipient and mark -- ``kind`` ``delivered`` or ``shown``, the entries
``lo < seq <= hi`` it newly covers, when, by which path -- where version 3 updated every
mailbox entry a mark covered: two more row versions per message, 40 % of the server's
work on a stream (issue 14). A recipient's ranges of one kind never overlap (each starts
above the highest before it), so an entry's mark is the row with the smallest ``hi`` at
or above its seq, when that row's ``lo`` is below it. Marks written into the mailbox
columns before version 7 stay there and come first (they are older)."""
DELIVERED, SHOWN = "delivered", "shown"
"""The two kinds of ``marks`` row."""
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    SCHEMA_V1,
    SCHEMA_V2,
    SCHEMA_V3,
    SCHEMA_V4,
    SCHEMA_V5,
    SCHEMA_V6,
    SCHEMA_V7,
)
SCHEMA_VERSION = len(MIGRATIONS)

COLUMNS = (
    "m.id, m.sender, m.target, m.body, m.context, m.thread, m.reply_to, m.ts, m.cid, m.checksum,"
    " m.human, m.receipt"
)
"""The columns ``sqlite.schema.stored_message`` reads, from ``messages m``."""
