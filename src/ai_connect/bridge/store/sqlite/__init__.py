"""The default store: one SQLite file in WAL mode, written in one transaction per batch.

Schema, version 9 (kept in ``PRAGMA user_version``; ``schema.MIGRATIONS[v]`` takes a
database from version ``v`` to ``v + 1``)::

    peers     address PK, name, project, first_seen, last_seen, tip (version 9: a
              floor, schema.py TIP), acked
    messages  n INTEGER PK (rowid: the history cursor), id UNIQUE, sender, cid, target,
              body, context (JSON text), thread, reply_to, ts, checksum (version 3:
              CRC-32 of body and context); UNIQUE (sender, cid); indexed by ts
    mailbox   (recipient, seq) PK -> n; indexed by n (version 8: not by (recipient,
              n) as well, schema.py)
    messages_fts  FTS5 over messages.body (external content; indexed after the commits,
                  in batches: search_index.py; a trigger removes deleted messages)
    search_index  (version 7) the last n indexed
    tokens    (version 2) auth tokens, hashed: see tokens.py
    dead_letters  (version 3) damaged messages moved aside, as far as they read
    proposals (version 3; before: made on first use) see consensus.py
    leases    (version 5) advisory file leases: see leases.py
    work_status  (version 6) each peer's last work status: see work.py

``peers.tip`` is a floor of the last sequence number given out in each mailbox (version
9, schema.py ``TIP``): the writer keeps the tips it gave out, so numbering a new entry reads
nothing for a mailbox it wrote to before. A commit (DESIGN.md "Group commit") is a handful of
statements whatever its size: one query for where the batch starts (last ``n``, the
recipients' tips, resent messages), then one multi-row ``INSERT`` per table, its rows bound
to one ``VALUES`` list. The writer indexes the new bodies for search when it is idle
(:meth:`SqliteStore.upkeep`, search_index.py).
Never ``executemany``: the sqlite3 module releases the GIL around every ``sqlite3_step``,
so ``executemany`` takes the GIL back once per row, and each take waits for the event loop
(up to ``sys.getswitchinterval()``) whenever the loop holds it. One statement per table
lets SQLite write a whole batch while the loop runs (bench/store_bench.py measures both).

Writes go through one connection, made in one thread and used from another (the server's
store worker), one thread at a time: hence ``check_same_thread=False``. Reads go through
a connection per reading thread (``PRAGMA query_only``), opened on first use: in WAL mode
readers and the writer never wait for each other, so a history query cannot hold up a
group commit, nor the other way round (issue 11). SQL lives only in this package::

    __init__.py   SqliteStore: connections, errors and transactions, migrations, reads
    schema.py     the tables and their migrations; how a message row reads back
    reads.py      the SQL of mailbox, history, search and dead-letter reads
    batch.py      BatchWriter: a commit's padded multi-row statements, retention
    search_index.py  the search index kept behind the commits
    lock.py       one bridge per database file (the bridge's lock, not the store's)
    tokens.py     the tokens table; consensus.py: the proposals table; work.py: work status
    process.py    SqliteProcessStore: the writes in a child process (child.py, over calls.py)
"""

from __future__ import annotations

import contextlib
import itertools
import json
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from ai_connect.bridge.store.base import (
    CommitResult,
    DeadLetter,
    LeaseRecord,
    MailboxEntry,
    PeerRecord,
    ProposalRecord,
    Receipts,
    StoredMessage,
    TokenRecord,
    WorkRecord,
    WriteBatch,
    message_bytes,
)
from ai_connect.bridge.store.rules import holds_words, search_words
from ai_connect.bridge.store.sqlite import consensus as _consensus
from ai_connect.bridge.store.sqlite import leases as _leases
from ai_connect.bridge.store.sqlite import tokens as _tokens
from ai_connect.bridge.store.sqlite import work as _work
from ai_connect.bridge.store.sqlite.batch import CACHED_STATEMENTS, BatchWriter
from ai_connect.bridge.store.sqlite.reads import (
    DEAD_LETTERS,
    HISTORY,
    MESSAGES,
    NO_CURSOR,
    PAGE_ALL,
    PAGE_WITH_PEER,
    PENDING,
    RECEIPTS,
    SEARCH,
    SEARCH_TAIL,
    fts_query,
    seq_before,
)
from ai_connect.bridge.store.sqlite.schema import (
    CHECKSUM_FUNCTION,
    MIGRATIONS,
    SCHEMA_VERSION,
    TIP,
    Damaged,
    checksum,
    dead_letter,
    mailbox_entries,
    receipts_of,
    stored_message,
)
from ai_connect.bridge.store.sqlite.search_index import RETRY_S, UPTO, SearchIndex
from ai_connect.errors import StoreError
from ai_connect.private_files import (
    Exposure,
    create_private_file,
    ensure_private_dir,
    exposed,
    warning_text,
)

__all__ = ["SqliteStore"]

_PEER_TIP = TIP.format(address="address")
log = logging.getLogger("ai_connect.bridge.store")

SYNCHRONOUS_MODES = ("FULL", "NORMAL")
_BUSY_TIMEOUT_MS = 5_000
_WAL_LIMIT_BYTES = 4 * 1024 * 1024


class SqliteStore:
    """A :class:`~ai_connect.bridge.store.base.Store` in one SQLite file.

    ``synchronous`` is ``FULL`` (an accepted message survives a power cut) or
    ``NORMAL`` (it survives a crash of the bridge; the last commits may be lost on
    power loss, for faster commits). ``clock`` (monotonic seconds) times the search index.
    """

    kind = "sqlite"

    def __init__(
        self,
        path: str | Path,
        *,
        synchronous: str = "FULL",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        mode = synchronous.upper()
        if mode not in SYNCHRONOUS_MODES:
            raise ValueError(
                f"synchronous must be one of {', '.join(SYNCHRONOUS_MODES)}, not {synchronous!r}"
            )
        self.path = str(path)
        self.exposed: list[Exposure] = []
        """What of the database other local users may read (logged as a warning)."""
        if self.path != ":memory:" and Path(path).is_dir():
            raise StoreError(
                f"Cannot open the database {self.path}: it is a directory. Give a file, "
                f"e.g. {Path(path) / 'bridge.db'} (--db or server.db)."
            )
        try:
            if self.path != ":memory:":
                # Private from the first byte (docs/security.md): folder 0700, file 0600;
                # SQLite gives -wal and -shm the database file's mode.
                ensure_private_dir(Path(path).parent)
                create_private_file(Path(path))
            self._db = sqlite3.connect(
                self.path,
                isolation_level=None,
                check_same_thread=False,
                cached_statements=CACHED_STATEMENTS,
            )
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(
                f"Cannot open the database {self.path}: {exc}. "
                "Check that its directory can be created and written to."
            ) from exc
        self._closed = False
        self._synchronous = mode
        self._clock = clock
        self._writer = BatchWriter(self._db)
        self._local = threading.local()
        self._readers: list[sqlite3.Connection] = []
        self._readers_lock = threading.Lock()
        try:
            with self._reading("configure the database"):
                self._db.create_function(CHECKSUM_FUNCTION, 2, checksum, deterministic=True)
                if self._db.execute("PRAGMA user_version").fetchone()[0] == 0:
                    # Only an empty database can take it: freed pages go back to the file
                    # system (store.prune). Older files reuse their free pages instead.
                    self._db.execute("PRAGMA auto_vacuum = INCREMENTAL")
                self._db.execute("PRAGMA journal_mode = WAL")
                self._db.execute(f"PRAGMA synchronous = {mode}")
                # The WAL goes back to this size after each checkpoint that empties it,
                # rather than staying at the largest it ever was.
                self._db.execute(f"PRAGMA journal_size_limit = {_WAL_LIMIT_BYTES}")
                self._db.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}")
                self._db.execute("PRAGMA foreign_keys = ON")
            self._migrate()
            with self._reading("read how far the search index is"):
                self._index = SearchIndex(self._db, clock())
        except BaseException:
            self._db.close()
            raise
        if self.path != ":memory:":
            self.exposed = exposed(Path(path))
            if self.exposed:
                log.warning("database %s: %s", self.path, warning_text(self.exposed))

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def size_bytes(self) -> int | None:
        """The database file with its -wal and -shm: a stat each, no query."""
        if self.path == ":memory:":
            return None
        total = 0
        for suffix in ("", "-wal", "-shm"):
            with contextlib.suppress(OSError):
                total += os.stat(self.path + suffix).st_size
        return total

    def close(self) -> None:
        """Closes the connections; later calls raise ``StoreError``. Idempotent."""
        if not self._closed:
            self._closed = True
            with self._readers_lock:
                readers, self._readers = self._readers, []
            for reader in readers:
                reader.close()
            self._db.close()

    def _reader(self) -> sqlite3.Connection:
        """This thread's read connection, opened on first use (the writer's own for an
        in-memory database, which other connections cannot see)."""
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is not None:
            return db
        if self.path == ":memory:" or self._closed:
            return self._db  # closed: its error says so
        db = sqlite3.connect(
            self.path, isolation_level=None, check_same_thread=False, cached_statements=64
        )
        db.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}")
        db.execute("PRAGMA query_only = ON")
        with self._readers_lock:
            self._readers.append(db)
        self._local.db = db
        return db

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

    @contextlib.contextmanager
    def _unsynced(self) -> Iterator[None]:
        """Commits without waiting for the disk (``synchronous = NORMAL``): for what a
        power cut may take back whole, as the search index's transactions (their cursor
        goes back with them). The WAL is written in order, so a later commit's sync
        makes them durable too; a crash never tears one."""
        if self._synchronous == "NORMAL":
            yield
            return
        with self._reading("commit without a sync"):
            self._db.execute("PRAGMA synchronous = NORMAL")
        try:
            yield
        finally:
            with self._reading("commit with a sync again"):
                self._db.execute(f"PRAGMA synchronous = {self._synchronous}")

    def _migrate(self) -> None:
        with self._transaction("prepare the database"):
            (version,) = self._db.execute("PRAGMA user_version").fetchone()
            if version > SCHEMA_VERSION:
                raise StoreError(
                    f"{self.path} has schema version {version}, newer than this ai-connect "
                    f"knows ({SCHEMA_VERSION}). Upgrade ai-connect or use another file."
                )
            for statements in MIGRATIONS[version:]:
                for statement in statements:
                    self._db.execute(statement)
            self._db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    # -- writing ---------------------------------------------------------------------

    def commit(self, batch: WriteBatch) -> CommitResult:
        """Writes the batch in one transaction: peers, appends, proposals, acks."""
        if not batch:
            return CommitResult([])
        index, writer = self._index, self._writer
        try:
            with self._transaction("commit a batch"):
                results, pruned = writer.write(batch)
                stored = writer.stored
                if stored is not None:
                    upto = index.in_commit(self._db, *stored)
        except BaseException:
            writer.rolled_back()
            raise
        writer.committed()
        if stored is not None:
            index.committed(upto, stored[1], self._clock())
        return CommitResult(results, pruned)

    def upkeep(self) -> float | None:
        """Writes that may wait, on the writer's thread while it has nothing else to do
        (the bridge's store thread calls it): indexes the messages waiting for search
        once that is due (search_index.py). Seconds until it is due again; ``None``:
        nothing waits."""
        index = self._index
        wait = None if self._closed else index.due(self._clock())
        if wait is None or wait > 0:
            return wait
        try:
            with self._unsynced(), self._transaction("index messages for search"):
                upto = index.step(self._db)
        except StoreError as exc:
            index.failed(self._clock())
            log.warning(
                "%s Search still finds those messages; the index is tried again in %.0f s.",
                exc,
                RETRY_S,
            )
        else:
            index.committed(upto, None, self._clock())
        return index.due(self._clock())

    # -- reading ---------------------------------------------------------------------

    def peers(self) -> list[PeerRecord]:
        """Every known peer with its current cursors, by address."""
        with self._reading("list peers"):
            rows = (
                self._reader()
                .execute(
                    f"SELECT address, name, project, first_seen, last_seen, {_PEER_TIP}, acked"
                    " FROM peers ORDER BY address"
                )
                .fetchall()
            )
        return [PeerRecord(*row) for row in rows]

    def pending(
        self, recipient: str, after_seq: int, limit: int, max_bytes: int
    ) -> list[MailboxEntry]:
        """Entries with ``seq > after_seq``, at most ``limit`` and about ``max_bytes``."""
        if limit <= 0:
            return []
        db = self._reader()
        with self._reading("read a mailbox"), contextlib.closing(db.cursor()) as cursor:
            return mailbox_entries(
                recipient, cursor.execute(PENDING, (recipient, after_seq, limit)), max_bytes
            )

    def history(
        self,
        viewer: str,
        peer: str | None,
        limit: int,
        before: int | None,
        max_bytes: int | None = None,
    ) -> tuple[list[StoredMessage], int | None]:
        """The newest ``limit`` visible messages before the cursor, oldest first."""
        if limit <= 0:
            return [], None
        start = NO_CURSOR if before is None else before
        db = self._reader()
        with self._reading("read history"):
            seq = seq_before(db, viewer, start)
        params = {
            "viewer": viewer,
            "peer": peer,
            "before": start,
            "seq": seq,
            "lim": limit + 1,  # one more than asked tells whether an older page exists
        }
        sql = HISTORY.format(page=PAGE_ALL if peer is None else PAGE_WITH_PEER)
        rows = self._rows(db, sql, params)
        page, cursor = self._page("read history", rows, limit, max_bytes)
        page.reverse()
        return page, cursor

    def search(
        self,
        viewer: str,
        query: str,
        limit: int,
        before: int | None = None,
        max_bytes: int | None = None,
    ) -> tuple[list[StoredMessage], int | None]:
        """Visible messages whose body holds every word of ``query``, newest first."""
        match = fts_query(query)
        if not match or limit <= 0:
            return [], None
        holds = holds_words(search_words(query))
        db = self._reader()
        with self._reading("search messages"):
            ((upto,),) = db.execute(UPTO).fetchall()
        cursor = NO_CURSOR if before is None else before
        # The messages after ``upto`` are not in the index (search_index.py): matched here,
        # then the index below them; every message up to ``upto`` stays in the index.
        tail = {"upto": upto, "viewer": viewer, "before": cursor}
        indexed = {"query": match, "viewer": viewer, "before": min(cursor, upto + 1)}
        with self._reading("search messages"):
            matched = self._tail_matches(db, tail, holds, limit + 1)
        found = itertools.chain(
            self._rows(db, MESSAGES, (json.dumps(matched),)),
            self._rows(db, SEARCH, {**indexed, "lim": limit + 1}),
        )
        return self._page("search messages", found, limit, max_bytes)

    @staticmethod
    def _tail_matches(
        db: sqlite3.Connection, params: dict[str, Any], holds: Callable[[str], bool], most: int
    ) -> list[int]:
        """The numbers of the first ``most`` messages of SEARCH_TAIL whose body ``holds``
        the query's words (as the index would see them: rules.holds_words)."""
        matched: list[int] = []
        with contextlib.closing(db.cursor()) as rows:
            for n, body in rows.execute(SEARCH_TAIL, params):
                text = bytes(body).decode("utf-8", "replace")  # damaged: MESSAGES says so
                if holds(text):
                    matched.append(n)
                    if len(matched) == most:
                        break
        return matched

    def _rows(
        self, db: sqlite3.Connection, sql: str, params: dict[str, Any] | tuple[Any, ...]
    ) -> Iterator[tuple[int, StoredMessage]]:
        """Rows ``(n, COLUMNS)`` read one at a time as ``(n, message)``, damaged ones left
        out (never shown; a mailbox read moves them aside: BuryOp)."""
        with contextlib.closing(db.cursor()) as rows:
            for n, *columns in rows.execute(sql, params):
                try:
                    yield n, stored_message(tuple(columns))
                except Damaged:
                    continue

    def _page(
        self,
        what: str,
        found: Iterator[tuple[int, StoredMessage]],
        limit: int,
        max_bytes: int | None,
    ) -> tuple[list[StoredMessage], int | None]:
        """``found`` (newest first) read until ``limit`` or ``max_bytes`` is reached (SQLite
        reads no further); the page and the cursor of what is left."""
        page: list[StoredMessage] = []
        total, last, more = 0, 0, False
        with self._reading(what):
            for n, message in found:
                total += message_bytes(message)
                if len(page) == limit or (page and max_bytes is not None and total > max_bytes):
                    more = True
                    break
                page.append(message)
                last = n
        return page, (last if more else None)

    # -- proposals and tokens (docs/security.md; their SQL: consensus.py, tokens.py) --

    def receipts(self, message_id: str) -> Receipts | None:
        """The message and each recipient's marks, by recipient (one read transaction)."""
        with self._reading("read a message's receipts"):
            return receipts_of(self._reader().execute(RECEIPTS, (message_id,)).fetchall())

    def dead_letters(self, limit: int) -> list[DeadLetter]:
        """The newest ``limit`` messages moved aside as damaged, newest first."""
        with self._reading("read the dead letters"):
            rows = self._reader().execute(DEAD_LETTERS, (limit,)).fetchall()
        return [dead_letter(row) for row in rows]

    def leases(self) -> list[LeaseRecord]:
        """Every stored file lease, by repository, path and id."""
        with self._reading("read the file leases"):
            return _leases.load(self._reader())

    def proposals(self) -> list[ProposalRecord]:
        """Every stored proposal, by id."""
        with self._reading("read the proposals"):
            return _consensus.load(self._reader())

    def works(self) -> list[WorkRecord]:
        """Every stored work status, by address (docs/protocol.md §11)."""
        with self._reading("read the work status"):
            return _work.load(self._reader())

    def tokens(self) -> list[TokenRecord]:
        """Every token, oldest first."""
        with self._reading("read the auth tokens"):
            rows = self._reader().execute(_tokens.SELECT).fetchall()
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
