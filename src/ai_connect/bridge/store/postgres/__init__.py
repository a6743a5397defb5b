"""The store for many bridge nodes: one PostgreSQL database, one transaction per batch.

``ai-connect bridge --db postgresql://user@host/db`` (or ``server.db`` in the config)
selects it (docs/deploy.md). It keeps the contract of ``store/base.py`` exactly as
``SqliteStore`` does (tests/bridge/store runs the same suite on memory, SQLite and
PostgreSQL); the schema is in ``schema.py``, versioned like SQLite's.

The driver is psycopg 3 (synchronous): the server calls a store from worker threads, one
``commit`` per group of writes on its writer thread and reads on reader threads
(store/base.py), so a blocking driver fits as it is; asyncpg would need an event loop of
its own inside those threads, or the server's loop to carry the store's round trips.

Writes go through one connection (the writer thread's); each reading thread opens its
own, so a history query never waits for a commit. Every commit takes a cluster-wide
advisory lock first (``schema.WRITE_LOCK``): nodes sharing the database number mailboxes
one commit at a time, as SQLite's ``BEGIN IMMEDIATE`` does for one process. A connection
that broke (the server restarted, failed over, or the network dropped) is opened again
on the next call: while the database is away every call raises ``StoreError`` (a ``send``
is refused, never falsely accepted), and the store works again once it is back.
SQL lives only in this package::

    __init__.py   PostgresStore: connections, errors and transactions, migrations, reads
    schema.py     the tables and their migrations
    reads.py      the SQL of the reads; search's tsquery
    batch.py      BatchWriter: a commit's statements (one per table), retention
    pipeline.py   the commit's transaction on libpq's pipeline
    load.py       another database's rows copied in (ai-connect admin migrate)
"""

from __future__ import annotations

import contextlib
import secrets
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from types import TracebackType
from typing import Any, Self

import msgspec
import psycopg
from psycopg import errors as pg_errors

from ai_connect.bridge.store.base import (
    AppendResult,
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
from ai_connect.bridge.store.postgres import load as _load
from ai_connect.bridge.store.postgres import reads
from ai_connect.bridge.store.postgres.batch import BatchWriter
from ai_connect.bridge.store.postgres.pipeline import Pipeline
from ai_connect.bridge.store.postgres.plans import KEEP_PLANS, PlanAges
from ai_connect.bridge.store.postgres.schema import (
    MIGRATE_LOCK,
    MIGRATIONS,
    SCHEMA_VERSION,
    WRITE_LOCK,
)
from ai_connect.bridge.store.rules import decoded, work_decoded
from ai_connect.bridge.store.sqlite import tokens as _tokens
from ai_connect.bridge.store.sqlite.schema import (
    Damaged,
    dead_letter,
    mailbox_entries,
    receipts_of,
    stored_message,
)
from ai_connect.config import redacted
from ai_connect.errors import StoreError

__all__ = ["PostgresStore"]

_CONNECT_TIMEOUT_S = 5
_SIZE_EVERY_S = 10.0
_MIGRATE = (
    f"SELECT pg_advisory_xact_lock({MIGRATE_LOCK})",
    "CREATE TABLE IF NOT EXISTS ai_connect_schema (version integer NOT NULL)",
)
_TOKEN_INSERT = """
    INSERT INTO tokens (id, name, hash, names, admin, created, expires, revoked)
    VALUES (%s, %s, %s, %s, %s, %s, %s, %s)"""
_TOKEN_REVOKE = "UPDATE tokens SET revoked = %s WHERE id = %s AND revoked IS NULL"
CHANNEL = "ai_connect"
"""The LISTEN/NOTIFY channel: each commit that moves peers or mailboxes notifies it, with
the committing store's ``node`` id as payload (a node ignores its own)."""
_NOTIFY = f"SELECT pg_notify('{CHANNEL}', %s)"
FORGOTTEN = "forgotten:"
"""The payload prefix of the notification each forgotten address sends
(``forgotten:NODE ADDRESS``): the other nodes close its connections and drop it."""
PROPOSALS = "proposals:"
"""The payload prefix (``proposals:NODE``) of the notification a commit that changed a
proposal sends: the other nodes re-read the proposals."""
LEASES = "leases:"
"""The payload prefix (``leases:NODE``) of the notification a commit that claimed or
released a lease sends: only then do the other nodes re-read the leases."""
TIPS = "tips:"
"""The payload prefix of a commit that only appended and acked (the usual one): JSON
``{"node": NODE, "tips": {address: tip}, "acked": {address: seq}, "entries": [...]}``,
the recipients' new tips, the acked cursors and, when they fit, the new mailbox entries
themselves (``MailboxEntry``). A woken node moves those mailboxes on without re-reading
the peers (``watch``'s ``moved``), and delivers the entries it was given without reading
them. A commit that changed more (peers, forgets, work status), or whose tips would not
fit in NOTIFY's 8000 bytes, sends the bare node id: re-read everything."""
_MAX_PAYLOAD = 7900


class _Moved(msgspec.Struct):
    """A ``TIPS`` notification's JSON (``entries``: absent from an older node's)."""

    node: str
    tips: dict[str, int]
    acked: dict[str, int]
    entries: list[MailboxEntry] = []


_moved_decoder = msgspec.json.Decoder(_Moved)
_encode = msgspec.json.encode


def _decoded(payload: str) -> _Moved | None:
    """A ``TIPS`` notice's JSON, ``None`` if it does not read as one (never raises: the
    listening thread goes on)."""
    try:
        return _moved_decoder.decode(payload)
    except msgspec.DecodeError:
        return None


TOKENS_CHANGED = "tokens"
"""The payload of the notification a token's creation or revocation sends: every node
re-reads the tokens at once (a revoked token's links close everywhere)."""
_WATCH_RETRY_S = 1.0
_BEAT_NODE = """
    INSERT INTO nodes (node, url, started, beat)
    VALUES (%s, %s, extract(epoch FROM clock_timestamp()), extract(epoch FROM clock_timestamp()))
    ON CONFLICT (node) DO UPDATE SET url = excluded.url, beat = excluded.beat"""
_BEAT_FORGET = "DELETE FROM sessions WHERE node = %s"
_BEAT_SESSIONS = """
    INSERT INTO sessions (address, node, session, since)
    SELECT a, %(node)s, s, t
    FROM unnest(%(addresses)s::text[], %(sessions)s::text[], %(since)s::float8[]) AS r (a, s, t)
    ON CONFLICT (address) DO UPDATE
    SET node = excluded.node, session = excluded.session, since = excluded.since
    WHERE sessions.node = excluded.node OR excluded.since > sessions.since OR NOT EXISTS (
        SELECT 1 FROM nodes n WHERE n.node = sessions.node AND n.url <> 'stopped'
        AND n.beat >= extract(epoch FROM clock_timestamp()) - %(timeout)s)"""
"""A node's sessions; an address held by another live node stays that node's unless its
hello here came later (``since``, wall clock): the latest hello of a session holds it."""
_ELSEWHERE = """
    SELECT s.address, s.session, s.since FROM sessions s JOIN nodes n ON n.node = s.node
    WHERE s.node <> %s AND n.beat >= extract(epoch FROM clock_timestamp()) - %s
    ORDER BY s.address"""
_NODES = """
    SELECT node, url, started, beat, extract(epoch FROM clock_timestamp()) - beat,
           (SELECT count(*) FROM sessions s WHERE s.node = n.node)
    FROM nodes n ORDER BY started, node"""


class PostgresStore:
    """A :class:`~ai_connect.bridge.store.base.Store` in a PostgreSQL database, shared by
    any number of bridge nodes (``url``: ``postgresql://user:password@host:port/db``).

    ``synchronous`` is SQLite's word for it: ``FULL`` keeps the server's
    ``synchronous_commit`` (on by default: a commit returns once it is flushed);
    ``NORMAL`` turns it off for the bridge's commits (a crash of PostgreSQL may lose the
    last ones, never corrupt anything).
    """

    kind = "postgres"
    commits_elsewhere = True
    """The database server does a commit's work (``base.commits_elsewhere``)."""

    def __init__(self, url: str, *, synchronous: str = "FULL") -> None:
        mode = synchronous.upper()
        if mode not in ("FULL", "NORMAL"):
            raise ValueError(f"synchronous must be one of FULL, NORMAL, not {synchronous!r}")
        self._writer_settings = [KEEP_PLANS]
        """Statements each writer connection runs first (not startup ``options``, which
        connection poolers such as PgBouncer refuse)."""
        if mode == "NORMAL":
            self._writer_settings.append("SET synchronous_commit = off")
        self.url = url
        self.where = redacted(url)
        self.node = secrets.token_hex(8)
        """This store's id among the nodes (its notifications' payload)."""
        self._closed = False
        self._local = threading.local()
        self._readers: list[psycopg.Connection[Any]] = []
        self._readers_lock = threading.Lock()
        self._size: int | None = None
        self._sized = 0.0
        self._plans = PlanAges()
        self._pipeline: Pipeline | None = None
        self._db = self._connect_writer("connect")
        try:
            self._migrate()
            self._measure()
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
        """Closes the connections; later calls raise ``StoreError``. Idempotent."""
        if not self._closed:
            self._closed = True
            with self._readers_lock:
                readers, self._readers = self._readers, []
            for reader in readers:
                reader.close()
            self._db.close()

    def size_bytes(self) -> int | None:
        """The database's size as last measured (after a commit, at most every 10 s): no
        query here, which runs on the event loop's thread."""
        return self._size

    # -- connections, errors and transactions ----------------------------------------

    def _connect(self, what: str) -> psycopg.Connection[Any]:
        """A new connection in autocommit mode."""
        if self._closed:
            raise StoreError(f"Cannot {what}: the store is closed. Open a new one.")
        try:
            return psycopg.connect(self.url, autocommit=True, connect_timeout=_CONNECT_TIMEOUT_S)
        except psycopg.Error as exc:
            raise self._error(what, exc) from exc

    def _connect_writer(self, what: str) -> psycopg.Connection[Any]:
        """A new writer connection, its session settings made (after the URL's own)."""
        db = self._connect(what)
        try:
            for setting in self._writer_settings:
                db.execute(setting)
        except psycopg.Error as exc:
            db.close()
            raise self._error(what, exc) from exc
        return db

    def _writer(self, what: str) -> psycopg.Connection[Any]:
        """The writing connection, opened again if it broke."""
        if self._closed or self._db.closed:
            self._db = self._connect_writer(what)
        return self._db

    def _reader(self, what: str) -> psycopg.Connection[Any]:
        """This thread's read connection, opened on first use and again if it broke."""
        db: psycopg.Connection[Any] | None = getattr(self._local, "db", None)
        if db is not None and not db.closed and not self._closed:
            return db
        db = self._connect(what)
        with self._readers_lock:
            self._readers = [r for r in self._readers if not r.closed]
            self._readers.append(db)
        self._local.db = db
        return db

    def _error(self, what: str, exc: Exception, *, rolled_back: bool = False) -> StoreError:
        """Our error for ``exc``, saying what to do about it."""
        if isinstance(exc, pg_errors.IntegrityError):
            hint = "A value breaks a database rule (a message id used twice?): fix the caller."
        elif isinstance(exc, TypeError | ValueError | pg_errors.DataError):
            hint = "Store text and JSON-serialisable context only."
        elif self._closed:
            hint = "The store is closed: open a new one."
        elif isinstance(exc, psycopg.OperationalError):
            hint = (
                "PostgreSQL cannot be reached or is restarting: check that it runs and "
                "that the URL, user and password are right; the bridge connects again by "
                "itself on its next write or read."
            )
        else:
            hint = "Check the database's free space and the user's rights, then retry."
        done = " Nothing of it was written." if rolled_back else ""
        if rolled_back and isinstance(exc, psycopg.OperationalError):
            done = (
                " If the connection broke during the commit, it may have been written:"
                " a resend with the same cid is stored once."
            )
        reason = " ".join(str(exc).split()).rstrip(".")
        return StoreError(f"PostgreSQL could not {what} ({self.where}): {reason}.{done} {hint}")

    @contextlib.contextmanager
    def _reading(self, what: str) -> Iterator[psycopg.Connection[Any]]:
        try:
            db = self._reader(what)
            self._plans.refresh(db)
            yield db
        except psycopg.Error as exc:
            raise self._error(what, exc) from exc

    @contextlib.contextmanager
    def _transaction(self, what: str) -> Iterator[psycopg.Connection[Any]]:
        """One transaction on the writer; on any error it is rolled back and re-raised
        as ``StoreError``. A commit whose answer was lost with the connection may have
        been written: the client's resend is then answered from the dedup by (sender,
        cid), never stored twice."""
        db = self._writer(what)
        try:
            self._plans.refresh(db)
            with db.transaction():
                yield db
        except StoreError:
            raise
        except (psycopg.Error, TypeError, ValueError) as exc:
            raise self._error(what, exc, rolled_back=True) from exc

    @contextlib.contextmanager
    def _pipelined(self, what: str) -> Iterator[Pipeline]:
        """``_transaction`` for the group commit, on libpq's pipeline (``pipeline.py``):
        statements go out without waiting for each one's answer; only one whose rows are
        read waits (then for all before it). A group commit is two round trips to the
        server (BEGIN, the lock and where the batch starts; its writes, NOTIFY and
        COMMIT), or one without appends. On any error the connection is closed (which
        rolls the transaction back) and opened again by the next call."""
        db = self._writer(what)
        try:
            self._plans.refresh(db)
            if self._pipeline is None or self._pipeline.db is not db:
                self._pipeline = Pipeline(db)
            with self._pipeline.transaction() as pipeline:
                yield pipeline
        except StoreError:
            raise
        except (psycopg.Error, TypeError, ValueError) as exc:
            raise self._error(what, exc, rolled_back=True) from exc

    def _migrate(self) -> None:
        with self._transaction("prepare the database") as db:
            for statement in _MIGRATE:
                db.execute(statement)
            row = db.execute("SELECT version FROM ai_connect_schema").fetchone()
            if row is None:
                db.execute("INSERT INTO ai_connect_schema (version) VALUES (0)")
            version = 0 if row is None else int(row[0])
            if version > SCHEMA_VERSION:
                raise StoreError(
                    f"{self.where} has schema version {version}, newer than this ai-connect "
                    f"knows ({SCHEMA_VERSION}). Upgrade ai-connect on every node."
                )
            for statements in MIGRATIONS[version:]:
                for statement in statements:
                    db.execute(statement)
            db.execute("UPDATE ai_connect_schema SET version = %s", (SCHEMA_VERSION,))

    def _measure(self) -> None:
        """Re-reads the database's size on the writer (at most every 10 s)."""
        now = time.monotonic()
        if self._size is not None and now - self._sized < _SIZE_EVERY_S:
            return
        self._sized = now
        with contextlib.suppress(psycopg.Error):
            row = self._db.execute("SELECT pg_database_size(current_database())").fetchone()
            self._size = None if row is None else int(row[0])

    # -- writing ---------------------------------------------------------------------

    def commit(self, batch: WriteBatch) -> CommitResult:
        """Writes the batch in one transaction: peers, appends, proposals, acks, forgets,
        buries, prunes."""
        if not batch:
            return CommitResult([])
        with self._pipelined("commit a batch") as db:
            writer = BatchWriter(db)
            results, pruned = writer.write(batch)
            if batch.proposals:  # first: the other nodes read them before the mail
                db.send(_NOTIFY, (f"{PROPOSALS}{self.node}",))
            if batch.leases or batch.lease_drops:  # likewise
                db.send(_NOTIFY, (f"{LEASES}{self.node}",))
            if batch.peers or batch.forgets or batch.works or batch.leases or batch.lease_drops:
                db.send(_NOTIFY, (self.node,))  # sent by the commit, to every node
            elif batch.appends or batch.acks:
                db.send(_NOTIFY, (self._moved(writer.tips, batch, results),))
            for forget in batch.forgets:
                db.send(_NOTIFY, (f"{FORGOTTEN}{self.node} {forget.address}",))
        self._plans.saw(writer.last_n)
        self._measure()
        return CommitResult(results, pruned, writer.rebased)

    def _moved(
        self, tips: Mapping[str, int], batch: WriteBatch, results: Iterable[AppendResult]
    ) -> str:
        """The notification of a commit that appended and acked only: the new tips and
        acked cursors with the new mailbox entries (``TIPS``), without the entries if
        they do not fit, or the bare node id if even the tips do not."""
        acked: dict[str, int] = {}
        for ack in batch.acks:
            acked[ack.recipient] = max(ack.seq, acked.get(ack.recipient, ack.seq))
        new = [result for result in results if not result.duplicate]
        least = sum(len(r.message.body) * len(r.seqs) for r in new)  # bytes, at least
        entries = [
            MailboxEntry(recipient, seq, result.message)
            for result in (new if least <= _MAX_PAYLOAD else ())
            for recipient, seq in result.seqs.items()
        ]
        for carried in (entries, []):
            payload = TIPS + _encode(_Moved(self.node, dict(tips), acked, carried)).decode()
            if len(payload.encode()) <= _MAX_PAYLOAD:
                return payload
        return self.node

    # -- reading ---------------------------------------------------------------------

    def peers(self) -> list[PeerRecord]:
        """Every known peer with its current cursors, by address."""
        with self._reading("list peers") as db:
            rows = db.execute(reads.PEERS).fetchall()
        return [PeerRecord(*row) for row in rows]

    def pending(
        self, recipient: str, after_seq: int, limit: int, max_bytes: int
    ) -> list[MailboxEntry]:
        """Entries with ``seq > after_seq``, at most ``limit`` and about ``max_bytes``."""
        if limit <= 0:
            return []
        with self._reading("read a mailbox") as db:
            rows = db.execute(reads.PENDING, (recipient, after_seq, limit)).fetchall()
        return mailbox_entries(recipient, rows, max_bytes)

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
        params = {
            "viewer": viewer,
            "peer": peer,
            "before": reads.NO_CURSOR if before is None else before,
            "lim": limit + 1,  # one more than asked tells whether an older page exists
        }
        page = reads.PAGE_ALL if peer is None else reads.PAGE_WITH_PEER
        found, cursor = self._page("read history", reads.HISTORY.format(page=page), params,
                                   limit, max_bytes)  # fmt: skip
        found.reverse()
        return found, cursor

    def search(
        self,
        viewer: str,
        query: str,
        limit: int,
        before: int | None = None,
        max_bytes: int | None = None,
    ) -> tuple[list[StoredMessage], int | None]:
        """Visible messages whose body holds every word of ``query``, newest first."""
        match = reads.tsquery(query)
        if match is None or limit <= 0:
            return [], None
        params = {
            "query": match,
            "viewer": viewer,
            "before": reads.NO_CURSOR if before is None else before,
            "lim": limit + 1,
        }
        return self._page("search messages", reads.SEARCH, params, limit, max_bytes)

    def _page(
        self, what: str, sql: str, params: dict[str, Any], limit: int, max_bytes: int | None
    ) -> tuple[list[StoredMessage], int | None]:
        """Rows ``(n, COLUMNS)`` newest first, until ``limit`` or ``max_bytes`` is reached;
        the cursor of what is left."""
        page: list[StoredMessage] = []
        total, last, more = 0, 0, False
        with self._reading(what) as db:
            rows = db.execute(sql, params).fetchall()
        for n, *columns in rows:
            try:
                message = stored_message(tuple(columns))
            except Damaged:
                continue  # never shown; a mailbox read moves it aside (BuryOp)
            total += message_bytes(message)
            if len(page) == limit or (page and max_bytes is not None and total > max_bytes):
                more = True
                break
            page.append(message)
            last = n
        return page, (last if more else None)

    def receipts(self, message_id: str) -> Receipts | None:
        """The message and each recipient's marks, by recipient (one statement)."""
        with self._reading("read a message's receipts") as db:
            return receipts_of(db.execute(reads.RECEIPTS, (message_id,)).fetchall())

    def dead_letters(self, limit: int) -> list[DeadLetter]:
        """The newest ``limit`` messages moved aside as damaged, newest first."""
        with self._reading("read the dead letters") as db:
            rows = db.execute(reads.DEAD_LETTERS, (limit,)).fetchall()
        return [dead_letter(tuple(row)) for row in rows]

    def leases(self) -> list[LeaseRecord]:
        """Every stored file lease, by repository, path and id."""
        with self._reading("read the file leases") as db:
            rows = db.execute(reads.LEASES).fetchall()
        return [LeaseRecord(i, r, p, h, w, c, e, t, bool(b)) for i, r, p, h, w, c, e, t, b in rows]

    def works(self) -> list[WorkRecord]:
        """Every stored work status, by address (docs/protocol.md §11)."""
        with self._reading("read the work status") as db:
            rows = db.execute(reads.WORKS).fetchall()
        return [work_decoded(a, text, ts) for a, text, ts in rows]

    def proposals(self) -> list[ProposalRecord]:
        """Every stored proposal, by id."""
        with self._reading("read the proposals") as db:
            rows = db.execute(reads.PROPOSALS).fetchall()
        return [decoded(i, text) for i, text in rows]

    # -- the other nodes' commits (store/base.py Watched) ----------------------------

    def watch(
        self,
        changed: Callable[[], None],
        tokens: Callable[[], None] | None = None,
        forgotten: Callable[[str], None] | None = None,
        proposals: Callable[[], None] | None = None,
        leases: Callable[[], None] | None = None,
        moved: Callable[[dict[str, int], dict[str, int], tuple[MailboxEntry, ...]], None]
        | None = None,
    ) -> Callable[[], None]:
        """LISTENs on its own connection in a thread; ``changed()`` after each commit of
        another node, and after each reconnect (what was missed meanwhile) -- but
        ``moved(tips, acked, entries)`` instead after a commit that only appended and
        acked (``TIPS``: recipient -> new tip, recipient -> acked seq, the new mailbox
        entries if they fitted in the notice); ``tokens()``
        after a token was stored or revoked (by any node or ``ai-connect token``);
        ``forgotten(address)`` after another node forgot an address; ``proposals()``
        after another node changed a proposal; ``leases()`` after another node claimed or
        released a lease. A reconnect calls all of them."""
        stop = threading.Event()
        # How this node's own TIPS notices start (msgspec writes ``node`` first, compact).
        own = TIPS + '{"node":' + _encode(self.node).decode() + ","

        def run() -> None:
            while not stop.is_set():
                try:
                    with psycopg.connect(
                        self.url, autocommit=True, connect_timeout=_CONNECT_TIMEOUT_S
                    ) as db:
                        db.execute(f"LISTEN {CHANNEL}")
                        changed()  # whatever was committed before we listened
                        for missed in (tokens, proposals, leases):
                            if missed is not None:
                                missed()
                        while not stop.is_set():
                            for note in db.notifies(timeout=_WATCH_RETRY_S):
                                if note.payload == TOKENS_CHANGED:
                                    (tokens or changed)()
                                elif note.payload.startswith(own):
                                    pass  # this node's own commit: not even decoded
                                elif note.payload.startswith(TIPS):
                                    doc = _decoded(note.payload[len(TIPS) :])
                                    if doc is None:  # unreadable: re-read everything
                                        changed()
                                    elif doc.node == self.node:
                                        pass
                                    elif moved is None:
                                        changed()
                                    else:
                                        moved(doc.tips, doc.acked, tuple(doc.entries))
                                elif note.payload.startswith(LEASES):
                                    node = note.payload[len(LEASES) :]
                                    if node != self.node and leases is not None:
                                        leases()
                                elif note.payload.startswith(PROPOSALS):
                                    node = note.payload[len(PROPOSALS) :]
                                    if node != self.node and proposals is not None:
                                        proposals()
                                elif note.payload.startswith(FORGOTTEN):
                                    node, _, address = note.payload[len(FORGOTTEN) :].partition(" ")
                                    if node != self.node and forgotten is not None:
                                        forgotten(address)
                                elif note.payload != self.node:
                                    changed()
                                if stop.is_set():
                                    break
                except psycopg.Error:
                    stop.wait(_WATCH_RETRY_S)  # the database is away: try again

        thread = threading.Thread(target=run, name="postgres-watch", daemon=True)
        thread.start()

        def unwatch() -> None:
            stop.set()
            thread.join(_WATCH_RETRY_S * 3 + _CONNECT_TIMEOUT_S)

        return unwatch

    # -- the nodes' heartbeats and sessions (cluster-wide presence) -------------------

    def beat(
        self,
        url: str,
        sessions: dict[str, str | None],
        notify: bool,
        since: Mapping[str, float] | None = None,
        timeout_s: float = 60.0,
    ) -> None:
        """This node is alive (``url``: where it listens) and holds ``sessions``
        (address -> the client's session id); ``notify`` tells the other nodes at once.
        An address another live node holds stays its own unless its hello here came
        later (``since``: a session that moved here takes it)."""
        with self._transaction("write this node's heartbeat") as db:
            db.execute(_BEAT_NODE, (self.node, url))
            db.execute(_BEAT_FORGET, (self.node,))
            if sessions:
                args = {
                    "node": self.node,
                    "addresses": list(sessions),
                    "sessions": list(sessions.values()),
                    "since": [(since or {}).get(a, 0.0) for a in sessions],
                    "timeout": timeout_s,
                }
                db.execute(_BEAT_SESSIONS, args)
            if notify:
                db.execute(_NOTIFY, (self.node,))

    def elsewhere(self, timeout_s: float) -> dict[str, tuple[str | None, float]]:
        """Address -> (session id, when its hello registered it) of each session other
        nodes hold, whose node's heartbeat is younger than ``timeout_s`` (a dead node's
        sessions are gone after it)."""
        with self._reading("read the other nodes' sessions") as db:
            rows = db.execute(_ELSEWHERE, (self.node, timeout_s)).fetchall()
        return {str(a): (s, float(t)) for a, s, t in rows}

    def nodes(self) -> list[tuple[str, str, float, int, bool]]:
        """(node, URL, seconds since its heartbeat, sessions, whether it is this store's
        node) of every node that beat here and has not stopped, oldest first."""
        with self._reading("read the nodes") as db:
            rows = db.execute(_NODES).fetchall()
        return [(str(n), str(u), float(age), int(c), n == self.node)
                for n, u, _started, _beat, age, c in rows if u != "stopped"]  # fmt: skip

    # -- copying another database in (ai-connect admin migrate) ----------------------

    def load(self, source: Callable[[str], Iterable[tuple[Any, ...]]]) -> dict[str, int]:
        """Copies ``source(table)``'s rows (``sqlite/export.py``'s columns) into this
        database, which must be empty, in one transaction; rows copied per table."""
        with self._transaction("copy the rows in") as db:
            db.execute(f"SELECT pg_advisory_xact_lock({WRITE_LOCK})")  # no node commits
            if not _load.is_empty(db):
                raise StoreError(
                    f"{self.where} already holds bridge data: migrate into a new, empty "
                    "database (CREATE DATABASE ...), or drop this one's tables first."
                )
            return _load.load(db, source)

    def counts(self) -> dict[str, int]:
        """Rows per table (peers, messages, mailbox, tokens, dead_letters, proposals)."""
        with self._reading("count the rows") as db:
            return _load.count(db)

    # -- tokens (docs/security.md): outside the group commit -------------------------

    def tokens(self) -> list[TokenRecord]:
        """Every token, oldest first."""
        with self._reading("read the auth tokens") as db:
            rows = db.execute(reads.TOKENS).fetchall()
        return [_tokens.record(tuple(row)) for row in rows]

    def put_token(self, token: TokenRecord) -> None:
        """Stores a new token; its id and hash must be new."""
        with self._transaction("store an auth token") as db:
            db.execute(_TOKEN_INSERT, _tokens.row(token))
            db.execute(_NOTIFY, (TOKENS_CHANGED,))

    def revoke_token(self, token_id: str, when: float) -> bool:
        """Marks the token revoked; ``False`` if unknown or already revoked."""
        with self._transaction("revoke an auth token") as db:
            cursor = db.execute(_TOKEN_REVOKE, (when, token_id))
            db.execute(_NOTIFY, (TOKENS_CHANGED,))
        return cursor.rowcount > 0
