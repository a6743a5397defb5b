"""The default store: one SQLite file in WAL mode, written in one transaction per batch.

Schema, version 1 (kept in ``PRAGMA user_version``; ``_MIGRATIONS[v]`` takes a database
from version ``v`` to ``v + 1``)::

    peers     address PK, name, project, first_seen, last_seen, tip, acked
    messages  n INTEGER PK (rowid: the history cursor), id UNIQUE, sender, cid, target,
              body, context (JSON text), thread, reply_to, ts; UNIQUE (sender, cid)
    mailbox   (recipient, seq) PK -> n; indexed by (recipient, n) and by n
    messages_fts  FTS5 over messages.body (external content, filled by a trigger)

``peers.tip`` is the last sequence number given out in each mailbox, so numbering a new
entry is a lookup, never a ``max()``. A commit reads the tips of the batch's recipients in
one query and writes every table with ``executemany`` (DESIGN.md "Group commit").

The connection is made in one thread and used from another (the server's store worker),
one thread at a time: hence ``check_same_thread=False``. SQL lives only in this module.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from ai_connect.errors import StoreError

from .base import (
    AckOp,
    AppendOp,
    AppendResult,
    CommitResult,
    MailboxEntry,
    PeerRecord,
    StoredMessage,
    WriteBatch,
    message_bytes,
)
from .memory import search_words, split_address

__all__ = ["SqliteStore"]

SYNCHRONOUS_MODES = ("FULL", "NORMAL")
_BUSY_TIMEOUT_MS = 5_000
_IN_CHUNK = 500  # addresses per "IN (...)": well under SQLite's variable limit
_NO_CURSOR = 2**63 - 1  # larger than any rowid

_SCHEMA_V1 = (
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
    """CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages BEGIN
        INSERT INTO messages_fts (rowid, body) VALUES (new.n, new.body);
    END""",
    """CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages BEGIN
        INSERT INTO messages_fts (messages_fts, rowid, body) VALUES ('delete', old.n, old.body);
    END""",
)
_MIGRATIONS: tuple[tuple[str, ...], ...] = (_SCHEMA_V1,)
SCHEMA_VERSION = len(_MIGRATIONS)

_COLUMNS = "m.id, m.sender, m.target, m.body, m.context, m.thread, m.reply_to, m.ts, m.cid"
_UPSERT_PEER = """
    INSERT INTO peers (address, name, project, first_seen, last_seen) VALUES (?, ?, ?, ?, ?)
    ON CONFLICT (address) DO UPDATE
    SET name = excluded.name, project = excluded.project, last_seen = excluded.last_seen"""
_UPSERT_TIP = """
    INSERT INTO peers (address, name, project, first_seen, last_seen, tip)
    VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (address) DO UPDATE SET tip = excluded.tip"""
_INSERT_MESSAGE = """
    INSERT INTO messages (n, id, sender, cid, target, body, context, thread, reply_to, ts)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"""
# Never past the tip: a stale client cursor must not skip future mail.
_ACK = "UPDATE peers SET acked = max(acked, min(?, tip)) WHERE address = ?"
_FIND = f"SELECT m.n, {_COLUMNS} FROM messages m WHERE m.sender = ? AND m.cid = ?"
_PENDING = f"""
    SELECT b.seq, {_COLUMNS} FROM mailbox b JOIN messages m ON m.n = b.n
    WHERE b.recipient = ? AND b.seq > ? ORDER BY b.seq LIMIT ?"""
# Each branch walks one index newest first and stops after :lim rows; the union merges.
_PAGE_ALL = """
    SELECT n FROM (SELECT n FROM messages WHERE sender = :viewer AND n < :before
                   ORDER BY n DESC LIMIT :lim)
    UNION
    SELECT n FROM (SELECT n FROM mailbox WHERE recipient = :viewer AND n < :before
                   ORDER BY n DESC LIMIT :lim)"""
_PAGE_WITH_PEER = """
    SELECT n FROM (SELECT n FROM messages m WHERE sender = :viewer AND n < :before
                   AND EXISTS (SELECT 1 FROM mailbox b WHERE b.n = m.n AND b.recipient = :peer)
                   ORDER BY n DESC LIMIT :lim)
    UNION
    SELECT n FROM (SELECT b.n FROM mailbox b JOIN messages m ON m.n = b.n
                   WHERE b.recipient = :viewer AND b.n < :before AND m.sender = :peer
                   ORDER BY b.n DESC LIMIT :lim)"""
_HISTORY = f"""
    WITH page (n) AS ({{page}} ORDER BY n DESC LIMIT :lim)
    SELECT m.n, {_COLUMNS} FROM page JOIN messages m ON m.n = page.n ORDER BY m.n DESC"""
_SEARCH = f"""
    SELECT {_COLUMNS} FROM messages_fts JOIN messages m ON m.n = messages_fts.rowid
    WHERE messages_fts MATCH :query AND (m.sender = :viewer OR EXISTS (
        SELECT 1 FROM mailbox b WHERE b.n = m.n AND b.recipient = :viewer))
    ORDER BY messages_fts.rowid DESC LIMIT :lim"""


def _dump(context: dict[str, Any] | None) -> str | None:
    if context is None:
        return None
    return json.dumps(context, separators=(",", ":"), ensure_ascii=False)


def _message(row: tuple[Any, ...]) -> StoredMessage:
    """A message from the ``_COLUMNS`` of a row."""
    id_, sender, target, body, context, thread, reply_to, ts, cid = row
    loaded = None if context is None else json.loads(context)
    return StoredMessage(id_, sender, target, body, loaded, thread, reply_to, ts, cid)


def fts_query(query: str) -> str:
    """Plain words -> an FTS5 query matching all of them, each quoted as a literal."""
    return " AND ".join('"' + word.replace('"', '""') + '"' for word in search_words(query))


class SqliteStore:
    """A :class:`~ai_connect.bridge.store.base.Store` in one SQLite file.

    ``synchronous`` is ``FULL`` (an accepted message survives a power cut) or
    ``NORMAL`` (it survives a crash of the bridge; the last commits may be lost on
    power loss, for faster commits).
    """

    kind = "sqlite"

    def __init__(self, path: str | Path, *, synchronous: str = "FULL") -> None:
        mode = synchronous.upper()
        if mode not in SYNCHRONOUS_MODES:
            raise ValueError(
                f"synchronous must be one of {', '.join(SYNCHRONOUS_MODES)}, not {synchronous!r}"
            )
        self.path = str(path)
        try:
            if self.path != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(
                f"Cannot open the database {self.path}: {exc}. "
                "Check that its directory can be created and written to."
            ) from exc
        self._closed = False
        try:
            with self._reading("configure the database"):
                self._db.execute("PRAGMA journal_mode = WAL")
                self._db.execute(f"PRAGMA synchronous = {mode}")
                self._db.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}")
                self._db.execute("PRAGMA foreign_keys = ON")
            self._migrate()
        except BaseException:
            self._db.close()
            raise

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Closes the connection; later calls raise ``StoreError``. Idempotent."""
        if not self._closed:
            self._closed = True
            self._db.close()

    # -- errors and transactions -----------------------------------------------------

    def _error(self, what: str, exc: Exception, *, rolled_back: bool = False) -> StoreError:
        """Our error for ``exc``, saying what to do about it."""
        if isinstance(exc, sqlite3.IntegrityError):
            hint = "A value breaks a database rule (a message id used twice?): fix the caller."
        elif isinstance(exc, TypeError | ValueError):
            hint = "Store text and JSON-serialisable context only."
        elif isinstance(exc, sqlite3.ProgrammingError) and self._closed:
            hint = "The store is closed: open a new one."
        elif "no such module: fts5" in str(exc):
            hint = "This Python's SQLite lacks FTS5: use a Python build that has it."
        elif "locked" in str(exc) or "busy" in str(exc):
            hint = "Another process holds the database: stop it or use another file."
        else:
            hint = "Check free disk space and the permissions of the file, then retry."
        done = " Nothing of it was written." if rolled_back else ""
        reason = str(exc).rstrip(".")
        return StoreError(f"SQLite could not {what} ({self.path}): {reason}.{done} {hint}")

    @contextlib.contextmanager
    def _reading(self, what: str) -> Iterator[None]:
        try:
            yield
        except sqlite3.Error as exc:
            raise self._error(what, exc) from exc

    @contextlib.contextmanager
    def _transaction(self, what: str) -> Iterator[None]:
        """``BEGIN IMMEDIATE`` ... ``COMMIT``; on any error, ``ROLLBACK`` and re-raise."""
        with self._reading(what):
            self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
            self._db.execute("COMMIT")
        except BaseException as exc:
            if self._db.in_transaction:
                # A failed ROLLBACK leaves nothing to save: the error that led here says
                # what went wrong, and SQLite rolls back an unfinished transaction anyway.
                with contextlib.suppress(sqlite3.Error):
                    self._db.execute("ROLLBACK")
            if isinstance(exc, sqlite3.Error | TypeError | ValueError):
                raise self._error(what, exc, rolled_back=True) from exc
            raise

    def _migrate(self) -> None:
        with self._transaction("prepare the database"):
            (version,) = self._db.execute("PRAGMA user_version").fetchone()
            if version > SCHEMA_VERSION:
                raise StoreError(
                    f"{self.path} has schema version {version}, newer than this ai-connect "
                    f"knows ({SCHEMA_VERSION}). Upgrade ai-connect or use another file."
                )
            for statements in _MIGRATIONS[version:]:
                for statement in statements:
                    self._db.execute(statement)
            self._db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    # -- writing ---------------------------------------------------------------------

    def commit(self, batch: WriteBatch) -> CommitResult:
        """Writes the batch in one transaction: peers, appends, acks."""
        if not batch:
            return CommitResult([])
        with self._transaction("commit a batch"):
            if batch.peers:
                self._upsert(batch.peers)
            results = self._append(batch.appends) if batch.appends else []
            if batch.acks:
                self._ack(batch.acks)
        return CommitResult(results)

    def _upsert(self, peers: list[PeerRecord]) -> None:
        rows = [(p.address, p.name, p.project, p.first_seen, p.last_seen) for p in peers]
        self._db.executemany(_UPSERT_PEER, rows)

    def _append(self, ops: list[AppendOp]) -> list[AppendResult]:
        db = self._db
        tips = self._tips({r for op in ops for r in op.recipients})
        first_ts: dict[str, float] = {}  # recipient -> ts of its first message here
        (last_n,) = db.execute("SELECT max(n) FROM messages").fetchone()
        n = last_n or 0
        results: list[AppendResult] = []
        staged: dict[tuple[str, str], AppendResult] = {}
        message_rows: list[tuple[Any, ...]] = []
        mailbox_rows: list[tuple[str, int, int]] = []
        for op in ops:
            m = op.message
            key = (m.sender, m.cid)
            earlier = staged.get(key) or self._find(key)
            if earlier is not None:
                results.append(AppendResult(earlier.message, dict(earlier.seqs), True))
                continue
            n += 1
            seqs: dict[str, int] = {}
            for recipient in dict.fromkeys(op.recipients):
                seq = tips.get(recipient, 0) + 1
                tips[recipient] = seqs[recipient] = seq
                first_ts.setdefault(recipient, m.ts)
                mailbox_rows.append((recipient, seq, n))
            context = _dump(m.context)
            message_rows.append(
                (n, m.id, m.sender, m.cid, m.to, m.body, context, m.thread, m.reply_to, m.ts)
            )
            staged[key] = AppendResult(m, seqs, False)
            results.append(staged[key])
        db.executemany(_INSERT_MESSAGE, message_rows)
        db.executemany("INSERT INTO mailbox (recipient, seq, n) VALUES (?, ?, ?)", mailbox_rows)
        db.executemany(
            _UPSERT_TIP,
            [(r, *split_address(r), ts, ts, tips[r]) for r, ts in first_ts.items()],
        )
        return results

    def _tips(self, recipients: set[str]) -> dict[str, int]:
        """Current tips of the known ``recipients``, in one query per 500 addresses."""
        found: dict[str, int] = {}
        addresses = sorted(recipients)
        for start in range(0, len(addresses), _IN_CHUNK):
            chunk = addresses[start : start + _IN_CHUNK]
            marks = ", ".join("?" * len(chunk))
            sql = f"SELECT address, tip FROM peers WHERE address IN ({marks})"
            found.update(self._db.execute(sql, chunk).fetchall())
        return found

    def _find(self, key: tuple[str, str]) -> AppendResult | None:
        """The stored message with this (sender, cid) and its original seqs, if any."""
        row = self._db.execute(_FIND, key).fetchone()
        if row is None:
            return None
        seqs = self._db.execute("SELECT recipient, seq FROM mailbox WHERE n = ?", row[:1])
        return AppendResult(_message(row[1:]), dict(seqs.fetchall()), True)

    def _ack(self, acks: list[AckOp]) -> None:
        self._db.executemany(_ACK, [(ack.seq, ack.recipient) for ack in acks])

    # -- reading ---------------------------------------------------------------------

    def peers(self) -> list[PeerRecord]:
        """Every known peer with its current cursors, by address."""
        with self._reading("list peers"):
            rows = self._db.execute(
                "SELECT address, name, project, first_seen, last_seen, tip, acked"
                " FROM peers ORDER BY address"
            ).fetchall()
        return [PeerRecord(*row) for row in rows]

    def pending(
        self, recipient: str, after_seq: int, limit: int, max_bytes: int
    ) -> list[MailboxEntry]:
        """Entries with ``seq > after_seq``, at most ``limit`` and about ``max_bytes``."""
        if limit <= 0:
            return []
        entries: list[MailboxEntry] = []
        total = 0
        with self._reading("read a mailbox"), contextlib.closing(self._db.cursor()) as cursor:
            for seq, *columns in cursor.execute(_PENDING, (recipient, after_seq, limit)):
                message = _message(tuple(columns))
                total += message_bytes(message)
                if entries and total > max_bytes:
                    break
                entries.append(MailboxEntry(recipient, seq, message))
        return entries

    def history(
        self, viewer: str, peer: str | None, limit: int, before: int | None
    ) -> tuple[list[StoredMessage], int | None]:
        """The newest ``limit`` visible messages before the cursor, oldest first."""
        if limit <= 0:
            return [], None
        params = {
            "viewer": viewer,
            "peer": peer,
            "before": _NO_CURSOR if before is None else before,
            "lim": limit + 1,  # one more than asked tells whether an older page exists
        }
        sql = _HISTORY.format(page=_PAGE_ALL if peer is None else _PAGE_WITH_PEER)
        with self._reading("read history"):
            rows = self._db.execute(sql, params).fetchall()
        page = rows[:limit]
        cursor = page[-1][0] if len(rows) > limit else None
        return [_message(row[1:]) for row in reversed(page)], cursor

    def search(self, viewer: str, query: str, limit: int) -> list[StoredMessage]:
        """Visible messages whose body holds every word of ``query``, newest first."""
        match = fts_query(query)
        if not match or limit <= 0:
            return []
        params = {"query": match, "viewer": viewer, "lim": limit}
        with self._reading("search messages"):
            rows = self._db.execute(_SEARCH, params).fetchall()
        return [_message(row) for row in rows]
