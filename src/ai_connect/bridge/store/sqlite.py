"""The default store: one SQLite file in WAL mode, written in one transaction per batch.

Schema, version 2 (kept in ``PRAGMA user_version``; ``_MIGRATIONS[v]`` takes a database
from version ``v`` to ``v + 1``)::

    peers     address PK, name, project, first_seen, last_seen, tip, acked
    messages  n INTEGER PK (rowid: the history cursor), id UNIQUE, sender, cid, target,
              body, context (JSON text), thread, reply_to, ts; UNIQUE (sender, cid)
    mailbox   (recipient, seq) PK -> n; indexed by (recipient, n) and by n
    messages_fts  FTS5 over messages.body (external content; indexed per commit, once
                  for the whole batch; a trigger removes deleted messages)
    tokens    (version 2) auth tokens, hashed: see sqlite_tokens.py

``peers.tip`` is the last sequence number given out in each mailbox, so numbering a new
entry is a lookup, never a ``max()``. A commit (DESIGN.md "Group commit") is a handful of
statements whatever its size: one query for where the batch starts (last ``n``, the
recipients' tips, resent messages), then one multi-row ``INSERT`` per table, its rows bound
to one ``VALUES`` list, and one ``INSERT`` that indexes all the new bodies for search.
Never ``executemany``: the sqlite3 module releases the GIL around every ``sqlite3_step``,
so ``executemany`` takes the GIL back once per row, and each take waits for the event loop
(up to ``sys.getswitchinterval()``) whenever the loop holds it. One statement per table
lets SQLite write a whole batch while the loop runs (bench/store_bench.py measures both).

The connection is made in one thread and used from another (the server's store worker),
one thread at a time: hence ``check_same_thread=False``. SQL lives only in this module
(and, for the tokens table, in sqlite_tokens.py).
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import json
import sqlite3
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from ai_connect.errors import StoreError

from . import sqlite_consensus as _consensus
from . import sqlite_tokens as _tokens
from .base import (
    AckOp,
    AppendOp,
    AppendResult,
    CommitResult,
    MailboxEntry,
    PeerRecord,
    ProposalRecord,
    StoredMessage,
    TokenRecord,
    WriteBatch,
    message_bytes,
)
from .memory import search_words, split_address

__all__ = ["SqliteStore"]

SYNCHRONOUS_MODES = ("FULL", "NORMAL")
_BUSY_TIMEOUT_MS = 5_000
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
    """CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages BEGIN
        INSERT INTO messages_fts (messages_fts, rowid, body) VALUES ('delete', old.n, old.body);
    END""",
)
_MIGRATIONS: tuple[tuple[str, ...], ...] = (_SCHEMA_V1, _tokens.SCHEMA_V2)
SCHEMA_VERSION = len(_MIGRATIONS)

_COLUMNS = "m.id, m.sender, m.target, m.body, m.context, m.thread, m.reply_to, m.ts, m.cid"

# Writes. Each writes a batch's rows into one table in one statement: "{values}" is a
# multi-row VALUES list, padded with rows of NULLs to one of a few sizes (_padded_size),
# so that a few prepared statements serve every batch size. "column1 IS NOT NULL" drops
# the padding (and keeps an upsert clause from being parsed as a join constraint:
# lang_upsert.html). Rows are unique by key within a statement (see _upsert, _ack), so
# their order does not matter.
_UPSERT_PEERS = """
    INSERT INTO peers (address, name, project, first_seen, last_seen)
    SELECT * FROM ({values}) WHERE column1 IS NOT NULL
    ON CONFLICT (address) DO UPDATE
    SET name = excluded.name, project = excluded.project, last_seen = excluded.last_seen"""
_INSERT_MESSAGES = """
    INSERT INTO messages (n, id, sender, cid, target, body, context, thread, reply_to, ts)
    SELECT * FROM ({values}) WHERE column1 IS NOT NULL"""
_INSERT_MAILBOX = """
    INSERT INTO mailbox (recipient, seq, n) SELECT * FROM ({values}) WHERE column1 IS NOT NULL"""
_UPSERT_TIPS = """
    INSERT INTO peers (address, name, project, first_seen, last_seen, tip)
    SELECT column1, column2, column3, column4, column4, column5 FROM ({values})
    WHERE column1 IS NOT NULL
    ON CONFLICT (address) DO UPDATE SET tip = excluded.tip"""
# Rows: (recipient, seq). Never past the tip: a stale client cursor must not skip future
# mail. An upsert that never inserts (unknown recipients are left out), so that each ack
# finds its peer by primary key; excluded.tip carries the seq. (UPDATE ... FROM would say
# it directly but needs SQLite 3.33.)
_ACK = """
    INSERT INTO peers (address, name, project, first_seen, last_seen, tip)
    SELECT column1, '', '', 0, 0, column2 FROM ({values})
    WHERE EXISTS (SELECT 1 FROM peers p WHERE p.address = column1)
    ON CONFLICT (address) DO UPDATE SET acked = max(acked, min(excluded.tip, tip))"""
# The same for one recipient, the usual ack-only commit: a plain UPDATE is cheaper.
_ACK_ONE = "UPDATE peers SET acked = max(acked, min(?, tip)) WHERE address = ?"
# A commit's new messages go into the index in one statement: far cheaper than a trigger
# inserting them one at a time.
_INDEX_SINCE = "INSERT INTO messages_fts (rowid, body) SELECT n, body FROM messages WHERE n > ?"
# Where a batch starts: the tips of some recipients (rows: address) as a JSON object, and
# the n of the messages stored under some (sender, cid) rows as a JSON array (the pairs
# drive the lookup in UNIQUE (sender, cid)). _START asks both and the last n at once.
_TIPS = """
    SELECT json_group_object(address, tip) FROM peers
    WHERE address IN (SELECT column1 FROM ({values}))"""
_STORED = """
    SELECT json_group_array(m.n) FROM ({values}) AS k CROSS JOIN messages m
    WHERE m.sender = k.column1 AND m.cid = k.column2"""
_LAST_N = "SELECT max(n) FROM messages"
_START = f"SELECT ({_LAST_N}), ({_TIPS}), ({_STORED.replace('{values}', '{pairs}')})"
_MESSAGE = f"SELECT {_COLUMNS} FROM messages m WHERE m.n = ?"
_MAX_ROWS = 1024
"""Rows bound to one statement, at most (fewer if SQLite allows fewer parameters)."""
_CACHED_STATEMENTS = 256
"""Prepared statements kept: each padded size of each statement above is one."""

# Reads
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


@functools.cache
def _sql(template: str, rows: int, columns: int) -> str:
    """``template`` with ``{values}`` as ``VALUES (?, ?), (?, ?), ...``: ``rows`` rows of
    ``columns`` parameters each (for _START: ``{values}`` of 1, ``{pairs}`` of 2).

    Cached, so that the same statement is the same string object: the sqlite3 module then
    finds its prepared statement without hashing a long text again.
    """

    def values(columns: int) -> str:
        return "VALUES " + ", ".join(["(" + ", ".join("?" * columns) + ")"] * rows)

    if template is _START:
        return template.format(values=values(1), pairs=values(2))
    return template.format(values=values(columns))


def _padded_size(rows: int) -> int:
    """The size a VALUES list of ``rows`` rows is padded to: 1, 2, 3, 4, 6, 8, 12, 16, 24...

    Powers of two and 1.5 times them: at most half as many padding rows as real ones, and
    about 20 sizes (so prepared statements) up to ``_MAX_ROWS``.
    """
    power = 1 << max(rows - 1, 0).bit_length()  # the smallest power of two >= rows
    return power * 3 // 4 if power >= 4 and rows <= power * 3 // 4 else power


def _chunk_rows(limit: int) -> int:
    """The largest padded size (see above) that is at most ``limit`` (>= 1)."""
    power = 1 << (limit.bit_length() - 1)  # the largest power of two <= limit
    return power * 3 // 2 if power >= 2 and power * 3 // 2 <= limit else power


def _params(rows: Sequence[tuple[Any, ...]], columns: int, size: int) -> list[Any]:
    """The values of ``rows``, then NULLs up to ``size`` rows of ``columns``."""
    params = list(itertools.chain.from_iterable(rows))
    params += [None] * (size * columns - len(params))
    return params


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
            self._db = sqlite3.connect(
                self.path,
                isolation_level=None,
                check_same_thread=False,
                cached_statements=_CACHED_STATEMENTS,
            )
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(
                f"Cannot open the database {self.path}: {exc}. "
                "Check that its directory can be created and written to."
            ) from exc
        self._closed = False
        self._max_params = self._db.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
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
        elif "no such function: json" in str(exc):
            hint = "This Python's SQLite lacks JSON functions: use a Python build that has them."
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
            if batch.proposals:
                _consensus.write(self._db, batch.proposals)
            if batch.acks:
                self._ack(batch.acks)
        return CommitResult(results)

    def _statements(
        self, sql: str, columns: int, rows: Sequence[tuple[Any, ...]]
    ) -> list[sqlite3.Cursor]:
        """Runs ``sql`` (see "Writes" above) over ``rows``: one statement per chunk."""
        # A padded size itself, so that a padded chunk never has more rows than a full one.
        chunk = _chunk_rows(min(_MAX_ROWS, self._max_params // columns))
        if len(rows) <= chunk:  # the usual case
            size = _padded_size(len(rows))
            return [self._db.execute(_sql(sql, size, columns), _params(rows, columns, size))]
        cursors = []
        for start in range(0, len(rows), chunk):
            cursors += self._statements(sql, columns, rows[start : start + chunk])
        return cursors

    def _upsert(self, peers: list[PeerRecord]) -> None:
        # One row per address, as the same upserts one after another would leave it.
        merged: dict[str, tuple[str, str, str, float, float]] = {}
        for p in peers:
            first_seen = merged[p.address][3] if p.address in merged else p.first_seen
            merged[p.address] = (p.address, p.name, p.project, first_seen, p.last_seen)
        self._statements(_UPSERT_PEERS, 5, list(merged.values()))

    def _append(self, ops: list[AppendOp]) -> list[AppendResult]:
        last_n, tips, stored = self._start(ops)
        n = last_n
        first_ts: dict[str, float] = {}  # recipient -> ts of its first message here
        results: list[AppendResult] = []
        staged: dict[tuple[str, str], AppendResult] = {}
        message_rows: list[tuple[Any, ...]] = []
        mailbox_rows: list[tuple[Any, ...]] = []
        for op in ops:
            m = op.message
            key = (m.sender, m.cid)
            earlier = staged.get(key) or stored.get(key)
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
        if message_rows:
            self._statements(_INSERT_MESSAGES, 10, message_rows)
            self._db.execute(_INDEX_SINCE, (last_n,))
        if mailbox_rows:
            self._statements(_INSERT_MAILBOX, 3, mailbox_rows)
        if first_ts:
            tip_rows = [(r, *split_address(r), ts, tips[r]) for r, ts in first_ts.items()]
            self._statements(_UPSERT_TIPS, 5, tip_rows)
        return results

    def _start(
        self, ops: list[AppendOp]
    ) -> tuple[int, dict[str, int], dict[tuple[str, str], AppendResult]]:
        """The last n, the current tips of the batch's recipients, and the messages
        already stored under the batch's (sender, cid), with their original seqs."""
        recipients = [(r,) for r in sorted({r for op in ops for r in op.recipients})]
        keys = sorted({(op.message.sender, op.message.cid) for op in ops})
        db = self._db
        size = _padded_size(max(len(recipients), len(keys)))
        if size <= _MAX_ROWS and size * 3 <= self._max_params:  # all in one statement
            params = _params(recipients, 1, size) + _params(keys, 2, size)
            last_n, tips_json, stored_json = db.execute(_sql(_START, size, 3), params).fetchone()
            tips: dict[str, int] = json.loads(tips_json)
            found: list[int] = json.loads(stored_json)
        else:
            (last_n,) = db.execute(_LAST_N).fetchone()
            tips, found = {}, []
            for cursor in self._statements(_TIPS, 1, recipients):
                tips.update(json.loads(cursor.fetchone()[0]))
            for cursor in self._statements(_STORED, 2, keys):
                found += json.loads(cursor.fetchone()[0])
        stored: dict[tuple[str, str], AppendResult] = {}
        for n in found:  # a resent message: rare, so one query each
            (row,) = db.execute(_MESSAGE, (n,)).fetchall()
            message = _message(row)
            seqs = dict(db.execute("SELECT recipient, seq FROM mailbox WHERE n = ?", (n,)))
            stored[message.sender, message.cid] = AppendResult(message, seqs, True)
        return last_n or 0, tips, stored

    def _ack(self, acks: list[AckOp]) -> None:
        highest: dict[str, int] = {}  # acks are cumulative: the highest per recipient
        for ack in acks:
            highest[ack.recipient] = max(ack.seq, highest.get(ack.recipient, ack.seq))
        if len(highest) == 1:
            ((recipient, seq),) = highest.items()
            self._db.execute(_ACK_ONE, (seq, recipient))
        else:
            self._statements(_ACK, 2, list(highest.items()))

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

    # -- tokens (docs/security.md; their SQL is in sqlite_tokens.py) -----------------

    def proposals(self) -> list[ProposalRecord]:
        """Every stored proposal, by id (its SQL is in sqlite_consensus.py)."""
        with self._reading("read the proposals"):
            return _consensus.load(self._db)

    def tokens(self) -> list[TokenRecord]:
        """Every token, oldest first."""
        with self._reading("read the auth tokens"):
            rows = self._db.execute(_tokens.SELECT).fetchall()
        return [_tokens.record(row) for row in rows]

    def put_token(self, token: TokenRecord) -> None:
        """Stores a new token; its id and hash must be new."""
        with self._transaction("store an auth token"):
            self._db.execute(_tokens.INSERT, _tokens.row(token))

    def revoke_token(self, token_id: str, when: float) -> bool:
        """Marks the token revoked; ``False`` if unknown or already revoked."""
        with self._transaction("revoke an auth token"):
            cursor = self._db.execute(_tokens.REVOKE, (when, token_id))
        return cursor.rowcount > 0
