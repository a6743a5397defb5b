"""The bridge's I/O shell: websockets, the group-commit loop, timers, store calls.

Everything that decides lives in :mod:`ai_connect.bridge.core`; this module turns socket
reads, timer ticks and store results into events and carries out the router's actions.
Two pieces sit beside it: :mod:`~ai_connect.bridge.links` writes each connection's frames
and :mod:`~ai_connect.bridge.batch` assembles each commit (pure). The store is written
by one worker thread: each loop turn's writes go to it as one batch (one thread hop and one
transaction per batch, never per message). Reads (mailbox pages, history, search, tokens)
run on their own threads beside it (``READ_THREADS``), so a query never waits for a commit
nor a commit for a query; a query's reply is built and encoded there too, off the loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import socket
import ssl
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from types import MappingProxyType
from typing import Any, TypeVar, TypeVarTuple

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response
from websockets.server import ServerProtocol

from ai_connect import __version__
from ai_connect.bridge import dashboard, metrics
from ai_connect.bridge.answers import answer, mailbox_page
from ai_connect.bridge.batch import committed, write_batch
from ai_connect.bridge.brake import BrakeLimits
from ai_connect.bridge.core import CLOSE_GOING_AWAY, Router, RouterConfig
from ai_connect.bridge.events import (
    Action,
    Answered,
    BadFrame,
    Braked,
    Close,
    CommitFailed,
    Committed,
    Connected,
    Damaged,
    Disconnected,
    Event,
    ForgottenElsewhere,
    FrameReceived,
    LeasesStored,
    LoadPending,
    LoginFailed,
    PeersStored,
    PendingLoaded,
    Persist,
    ProposalsStored,
    QueryHistory,
    QueryReceipts,
    QuerySearch,
    ReceiptsLoaded,
    RereadPeers,
    RereadProposals,
    Send,
    SessionsElsewhere,
    Throttle,
    Tick,
    TipsStored,
    TokensChanged,
)
from ai_connect.bridge.links import EndOfTurn, Link, LinkLimits, Reply
from ai_connect.bridge.logins import LoginPolicy
from ai_connect.bridge.store.base import (
    AckOp,
    DeliveredOp,
    MailboxEntry,
    ProposalRecord,
    Store,
    Supervised,
    TokenRecord,
    Upkept,
    Watched,
    commits_elsewhere,
    message_bytes,
)
from ai_connect.bridge.views import (  # message_view: an old public name (tests/test_moved.py)
    message_view,  # noqa: F401
    new_message_id,
)
from ai_connect.bridge.workers import Workers
from ai_connect.errors import FrameError, StoreError
from ai_connect.protocol import Hello, Limits, encode
from ai_connect.protocol.hot import decode_hot
from ai_connect.redaction import Redacting, redact
from ai_connect.text.neutral import neutralise
from ai_connect.waiting import wait_event

__all__ = ["ACK_DELAY_S", "READ_THREADS", "BridgeServer", "ServerSettings"]

log = logging.getLogger("ai_connect.bridge")
T = TypeVar("T")
Ts = TypeVarTuple("Ts")

READ_THREADS = 2
"""Threads that read the store: a mailbox page and a query can run at once, beside the
writer. SQLite in WAL mode gives each its own connection (store/sqlite)."""
INCOMING_FRAMES = 4
"""Frames websockets reads ahead of the router per connection (``max_queue``)."""
ACK_DELAY_S = 0.02
"""An ack that nobody waits for (no ``rid``, §3.3) does not start a commit of its own: it
rides with the next one, or is committed after this delay. Before, every message cost two
commits (two fsyncs): its own and its ack's (issue 13). An ack lost in a crash means a
redelivery, which the client drops by message id (at-least-once, §3.2); an ack with a
``rid`` is committed at once."""


REREAD_WAIT_S = 2.0
"""How long a send to a peer unknown here waits for another node to commit it."""
REREAD_RETRY_S = 0.5
REREAD_RETRY_MAX_S = 30.0
"""A failed re-read of the peers or proposals is made again after ``REREAD_RETRY_S``,
then twice as long each time, at most ``REREAD_RETRY_MAX_S`` (``_reread_later``)."""
PROPOSAL_READS = 4
"""Reads of the proposals in a row while this node's own commits of them keep crossing
the reads (``_read_proposals``); then the next wake reads again."""
CARRIED_MOST = 1024
"""Entries kept per recipient from other nodes' notices, at most (``_carried``): more is
read from the store when it is due."""


@dataclass(frozen=True, slots=True)
class ServerSettings:
    host: str = "127.0.0.1"
    port: int = 9999
    limits: Limits = field(default_factory=Limits)
    presence_timeout_s: float = 60.0
    retention_s: float = 30 * 86400.0
    link: LinkLimits = field(default_factory=LinkLimits)
    """What may wait to be written to one connection (bridge/links.py)."""
    ssl: ssl.SSLContext | None = None
    """Serve ``wss://`` with this context (``ai_connect.tls.server_context``)."""
    require_auth: bool = False
    """Auth on even while no token exists (docs/security.md)."""
    auth_reload_s: float = 2.0
    """How often the stored tokens are re-read (``ai-connect token`` writes from outside)."""
    listen: bool = True
    """Bind ``host:port``. ``False``: serve only the sockets handed to ``accept`` (tests)."""
    brake: BrakeLimits = field(default_factory=BrakeLimits)
    """When the loop brake pauses an unattended conversation (§3.6)."""
    ui: bool = False
    """Serve the web dashboard at ``/ui/`` (bridge/dashboard.py); off: ``/ui`` is a 404."""
    logins: LoginPolicy = field(default_factory=LoginPolicy)
    """How failed logins are held per address (bridge/logins.py)."""
    ack_delay_s: float = ACK_DELAY_S
    """How long an ack nobody waits for may wait for the next commit (``ACK_DELAY_S``)."""


class BridgeServer:
    """Serves protocol v1 on a WebSocket port. Use ``async with`` or start/close.

    Each connection's reader runs in :meth:`_handle`; what the router sends it goes out
    through its :class:`~ai_connect.bridge.links.Link`. Writes wait in ``_batch`` until
    the commit loop runs them through the store in one transaction (``bridge/batch.py``).
    """

    def __init__(
        self,
        store: Store,
        settings: ServerSettings | None = None,
        *,
        clock: Callable[[], float] = time.time,
        ids: Iterator[str] | None = None,
    ) -> None:
        self.settings = settings or ServerSettings()
        self.store = store
        self._clock = clock
        # Idle, the writer does what can wait (Upkept: SQLite's search index).
        idle = store.upkeep if isinstance(store, Upkept) else None
        self._executor = Workers(1, "ai-connect-store", idle)
        self._overlap = commits_elsewhere(store)
        """Whether the next batch goes to the writer before the last one is answered."""
        self._answers: list[Committed] = []
        """Commits returned whose answers wait for the next loop turn (``_overlap``): the
        router takes them before any other event (``_dispatch``)."""
        self._readers = Workers(READ_THREADS, "ai-connect-read")
        self._router: Router | None = None
        self._ids = ids or new_message_id()
        self._links: dict[int, Link] = {}
        self._turn = EndOfTurn()
        """Writes the frames the links queued in a loop turn, at its end (bridge/links.py)."""
        self._conn_ids = itertools.count(1)
        self._batch: list[Persist] = []
        self._batch_ready = asyncio.Event()
        self._ack_timer: asyncio.TimerHandle | None = None
        """Commits the acks waiting in ``_batch`` when nothing else did (``ack_delay_s``)."""
        self._commits_started = self._commits_done = 0
        self._commit_done = asyncio.Event()
        """Set (and replaced) as each commit ends: :meth:`_flushed` waits on it."""
        self._tasks: set[asyncio.Task[None]] = set()
        self._server: Server | None = None
        self._closing = False
        self._tokens: tuple[TokenRecord, ...] = ()
        self._keepalive = max(1.0, min(20.0, self.settings.presence_timeout_s / 2))
        """Ping interval and timeout: a silent link is gone well before presence expires."""
        self._ws_log = Redacting(logging.getLogger("ai_connect.bridge.ws"))
        self.commit_times = metrics.CommitTimes()
        """Each group commit's time, for /metrics (bridge/metrics.py)."""
        self._sessions_dirty = asyncio.Event()
        """A session began or ended here: the heartbeat (a shared database) goes now."""
        self._peers_changed = asyncio.Event()
        """Another node committed (a Watched store: PostgreSQL): re-read the peers."""
        self._tokens_changed = asyncio.Event()
        """Set when another node (or ``ai-connect token``) stored or revoked a token."""
        self._proposals_changed = asyncio.Event()
        """Set when another node committed a change to a proposal (or a read of them was
        set aside: ``RereadProposals``)."""
        self._leases_changed = asyncio.Event()
        """Set when another node claimed or released a lease: the next wake reads them."""
        self._reread_retry_s = REREAD_RETRY_S
        """How long until a failed re-read is made again (``_reread_later``)."""
        self._reread_timer: asyncio.TimerHandle | None = None
        """The re-read due after a failed one, if any: at most one waits."""
        self._proposal_reads: list[set[str]] = []
        """For each proposals read under way, the proposals this node's commits stored
        while it ran: the read may be older than those commits (``_read_proposals``)."""
        self._unwatch: Callable[[], None] | None = None
        self._full_reread = False
        """The next wake re-reads the peers (else it only moves the mailboxes below)."""
        self._tips: dict[str, int] = {}
        """Mailboxes another node's commits moved (its notice said where): the next wake
        moves them here, with no read (``TipsStored``)."""
        self._acked: dict[str, int] = {}
        self._carried: dict[str, dict[int, MailboxEntry]] = {}
        """Mailbox entries another node's notice carried, by recipient held here and
        seq: a load of that mailbox takes them from here rather than reading them."""
        self._arriving: list[MailboxEntry] = []
        """Carried entries whose tips are not moved here yet: kept (``_carried``) with
        their ``TipsStored``, after what must be read before the mail (proposals,
        leases), never delivered ahead of it."""
        self._rereads: list[RereadPeers] = []
        """Sends to a peer unknown here, waiting for the peers to be re-read."""
        self._parked: dict[int, float] = {}
        """id() of such a send -> when it is refused if its peer is still unknown."""
        self._redispatching: tuple[Any, float] | None = None
        self.failure: str | None = None
        """Why the bridge cannot go on (its store process ended), once it cannot."""
        self._failed = asyncio.Event()

    # --- lifecycle --------------------------------------------------------------------

    @property
    def router(self) -> Router:
        if self._router is None:
            raise RuntimeError("BridgeServer is not started; call start() first")
        return self._router

    @property
    def links(self) -> Mapping[int, Link]:
        """Connection id -> its link (read-only): what waits to be written to each."""
        return MappingProxyType(self._links)

    @property
    def port(self) -> int:
        """The port actually bound (useful with port 0)."""
        if self._server is None:
            raise RuntimeError("BridgeServer is not started; call start() first")
        if not self._server.sockets:
            raise RuntimeError("BridgeServer listens on no port (listen=False): use accept()")
        return int(self._server.sockets[0].getsockname()[1])

    @property
    def url(self) -> str:
        host = self.settings.host
        host = f"[{host}]" if ":" in host else host
        scheme = "wss" if self.settings.ssl is not None else "ws"
        return f"{scheme}://{host}:{self.port}"

    async def start(self) -> None:
        peers = await self._read(self.store.peers)
        self._tokens = tuple(await self._read(self.store.tokens))
        proposals = await self._read(self.store.proposals)
        leases = await self._read(self.store.leases)
        works = await self._read(self.store.works)
        config = RouterConfig(
            server_version=__version__,
            storage=self.store.kind,
            started_at=self._clock(),
            limits=self.settings.limits,
            presence_timeout_s=self.settings.presence_timeout_s,
            retention_s=self.settings.retention_s,
            require_auth=self.settings.require_auth,
            brake=self.settings.brake,
            logins=self.settings.logins,
            shared=isinstance(self.store, Watched),
        )
        self._router = Router(config, peers, self._ids, self._tokens, proposals, leases, works)
        # With listen=False, asyncio binds each of no hosts: a server without a socket
        # that accept() hands connections to, exactly as if they came in on the port.
        hosts: Any = self.settings.host if self.settings.listen else []
        self._server = await serve(
            self._handle,
            hosts,
            self.settings.port,
            compression=None,
            max_size=self.settings.limits.hard_frame_bytes,
            max_queue=INCOMING_FRAMES,
            ping_interval=self._keepalive,
            ping_timeout=self._keepalive,
            process_request=self._http,
            ssl=self.settings.ssl,
            server_header=f"ai-connect/{__version__}",
            logger=self._ws_log,
        )
        if isinstance(self.store, Supervised):  # SQLite's writer in a child process
            loop = asyncio.get_running_loop()

            def ended(why: str) -> None:
                with contextlib.suppress(RuntimeError):  # the loop is closed: stopping
                    loop.call_soon_threadsafe(self._store_ended, why)

            self.store.on_exit(ended)
        self._spawn(self._commit_loop())
        self._spawn(self._tick_loop())
        self._spawn(self._tokens_loop())
        if isinstance(self.store, Watched):  # other nodes write the same database
            loop = asyncio.get_running_loop()

            def changed() -> None:
                with contextlib.suppress(RuntimeError):  # the loop is closed: stopping
                    loop.call_soon_threadsafe(self._reread_all)

            def moved(
                tips: dict[str, int], acked: dict[str, int], entries: tuple[MailboxEntry, ...]
            ) -> None:
                with contextlib.suppress(RuntimeError):
                    loop.call_soon_threadsafe(self._moved, tips, acked, entries)

            def tokens() -> None:
                with contextlib.suppress(RuntimeError):
                    loop.call_soon_threadsafe(self._tokens_changed.set)

            def forgotten(address: str) -> None:
                with contextlib.suppress(RuntimeError):
                    event = ForgottenElsewhere(address, self._clock())
                    loop.call_soon_threadsafe(self._dispatch, event)

            def proposals_changed() -> None:
                with contextlib.suppress(RuntimeError):
                    loop.call_soon_threadsafe(self._proposals_changed.set)
                    loop.call_soon_threadsafe(self._peers_changed.set)

            def leases_changed() -> None:
                with contextlib.suppress(RuntimeError):
                    loop.call_soon_threadsafe(self._leases_changed.set)
                    loop.call_soon_threadsafe(self._peers_changed.set)

            self._unwatch = self.store.watch(
                changed, tokens, forgotten, proposals_changed, leases_changed, moved
            )
            self._spawn(self._peers_loop())
            self._spawn(self._beat_loop(self.store))
        where = f"listening on {self.url}" if self.settings.listen else "serving accept() only"
        log.info("bridge %s (storage: %s, %d known peers)", where, self.store.kind, len(peers))

    def accept(self, sock: socket.socket) -> None:
        """Serves an already-connected stream socket as if it had come in on the port.

        The same handshake, limits, keepalive and handler run; only the listening socket
        is skipped. Tests hand in one end of a ``socket.socketpair()`` and connect a
        client over the other (``websockets`` ``connect(uri, sock=...)``): no port.
        """
        if self._server is None or self._closing:
            raise RuntimeError("BridgeServer is not serving; call start() first")
        limit = self.settings.limits.hard_frame_bytes
        ws = ServerConnection(
            ServerProtocol(max_size=limit, logger=self._ws_log),
            self._server,
            max_queue=INCOMING_FRAMES,
            ping_interval=self._keepalive,
            ping_timeout=self._keepalive,
        )
        loop = asyncio.get_running_loop()
        self._spawn(loop.connect_accepted_socket(lambda: ws, sock, ssl=self.settings.ssl))

    async def close(self) -> None:
        """Stops accepting, closes every link, flushes the last batch, closes the store."""
        if self._closing:
            return
        self._closing = True
        if self._reread_timer is not None:
            self._reread_timer.cancel()
        if self._server is not None:
            self._server.close(close_connections=False)
            for link in list(self._links.values()):
                link.close(CLOSE_GOING_AWAY, "bridge shutting down")
            await self._server.wait_closed()
        # What was accepted is stored before anything stops: the batch, and a commit in
        # flight (cancelling the commit loop while its job waits behind another store
        # call would cancel that job, and lose its batch).
        while self._batch or self._commits_done < self._commits_started:
            if self._batch:
                await self._commit_once()
            else:
                await self._commit_done.wait()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._unwatch is not None:
            await asyncio.to_thread(self._unwatch)
        if isinstance(self.store, Watched):  # this node holds no session any more
            with contextlib.suppress(StoreError):
                await self._store(self.store.beat, "stopped", {}, True)
        self._readers.shutdown()
        await self._store(self.store.close)
        self._executor.shutdown()
        log.info("bridge stopped")

    def _store_ended(self, why: str) -> None:
        """The store's process ended under the bridge: it cannot accept anything more."""
        if self._closing or self.failure is not None:
            return
        log.error(
            "%s: the bridge stops. Nothing accepted is lost (a send is accepted only after "
            "its commit); what was in flight is refused and its senders resend it. Start "
            "the bridge again.",
            why,
        )
        self.failure = why
        self._failed.set()

    async def wait_failure(self) -> str:
        """Returns why, once the bridge cannot go on (its store process ended); the
        caller closes it (``ai-connect bridge`` then exits non-zero)."""
        await self._failed.wait()
        assert self.failure is not None
        return self.failure

    async def __aenter__(self) -> BridgeServer:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def serve_forever(self) -> None:
        assert self._server is not None
        await self._server.serve_forever()

    async def _store(self, call: Callable[[*Ts], T], *args: *Ts) -> T:
        """Runs one store write on the writer thread (commits never run two at a time)."""
        return await self._executor.run(call, *args)

    async def _read(self, call: Callable[[*Ts], T], *args: *Ts) -> T:
        """Runs one store read on a reader thread, beside the writer (store/base.py)."""
        return await self._readers.run(call, *args)

    def _spawn(self, coro: Any) -> None:
        task: asyncio.Task[None] = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("bridge task failed", exc_info=task.exception())

    # --- HTTP -------------------------------------------------------------------------

    def _http(self, ws: ServerConnection, request: Request) -> Response | None:
        if request.path == "/healthz":
            return ws.respond(HTTPStatus.OK, "ok\n")
        if request.path == "/metrics":
            return metrics.respond(ws, request, self._scrape, self._tokens, self._clock())
        if (page := dashboard.respond(ws, request, self.settings.ui)) is not None:
            return page
        if (origin := dashboard.foreign_origin(request)) is not None:
            self._ws_log.warning("refused a WebSocket from a page of another site: %s", origin)
            return ws.respond(
                HTTPStatus.FORBIDDEN,
                f"ai-connect bridge: a page from {origin} may not connect; the dashboard "
                "is served by the bridge itself ('ai-connect bridge --ui', then /ui/)\n",
            )
        if request.headers.get("Upgrade", "").lower() != "websocket":
            return ws.respond(
                HTTPStatus.UPGRADE_REQUIRED,
                "ai-connect bridge: connect with a WebSocket client "
                "(ai-connect status --bridge ws://HOST:PORT)\n",
            )
        return None

    def _scrape(self) -> metrics.Scrape:
        return metrics.Scrape(
            version=__version__,
            storage=self.store.kind,
            started_at=self.router.config.started_at,
            census=self.router.census(),
            commits=self.commit_times,
            database_bytes=self.store.size_bytes(),
        )

    # --- connections ------------------------------------------------------------------

    async def _handle(self, ws: ServerConnection) -> None:
        # The handshake is over and nothing reads its headers again: they (~2 KB) are
        # not kept for the connection's lifetime (issue 13). websockets reads ``request``
        # itself (its presence marks the handshake as done), so it stays, emptied.
        if ws.request is not None:
            ws.request.headers.clear()
        ws.response = None
        conn = next(self._conn_ids)
        link = self._links[conn] = Link(ws, conn, self.settings.link, self._turn)
        link.start()
        link.log.info("connection %d from %s", conn, link.where)
        self._dispatch(Connected(conn, self._clock(), link.where))
        max_bytes = self.settings.limits.max_frame_bytes
        debug = log.isEnabledFor(logging.DEBUG)
        try:
            async for raw in ws:
                if debug:  # never the token (docs/security.md)
                    text = raw if isinstance(raw, str) else raw.decode(errors="replace")
                    link.log.debug("conn %d <- %.200r", conn, redact(text))
                    del text
                self._received(conn, raw, max_bytes)
                # An idle connection waits here with no frame alive: its hello (a pydantic
                # model, ~2 KB) is not kept for its lifetime (issue 13, 10,000 idle peers).
                del raw
                # Over its rate (§5.1), or its replies not drained: its next frames wait in
                # its own socket buffers (bridge/links.py).
                if not link.clear_to_read():
                    await link.readable()
        except ConnectionClosed:
            pass
        finally:
            self._links.pop(conn, None)
            address = self.router.address_of(conn)
            self._dispatch(Disconnected(conn, self._clock()))
            await link.stop()
            link.log.info(
                "connection %d closed (%s, code %s)", conn, address or "unregistered", ws.close_code
            )

    def _received(self, conn: int, raw: str | bytes, max_bytes: int) -> None:
        """Decodes one frame of ``conn`` and hands it to the router."""
        try:
            frame = decode_hot(raw, max_bytes)
        except FrameError as exc:
            self._dispatch(BadFrame(conn, exc, self._clock()))
        else:
            self._dispatch(FrameReceived(conn, frame, self._clock()))

    # --- carrying out actions ---------------------------------------------------------

    def _dispatch(self, event: Event) -> None:
        if self._answers:  # a commit's answer comes before anything heard after it
            self._answer()
        self._route(event)

    def _answer(self) -> None:
        """Gives the router the commits' answers that wait (``_answers``), oldest first."""
        while self._answers:
            self._route(self._answers.pop(0))

    def _route(self, event: Event) -> None:
        self._apply(self.router.handle(event))
        if isinstance(event, Disconnected) or (
            isinstance(event, FrameReceived) and isinstance(event.frame, Hello)
        ):
            self._sessions_dirty.set()  # the heartbeat tells the other nodes at once

    def _apply(self, actions: list[Action]) -> None:
        for action in actions:
            match action:
                case Send():
                    self._send(action)
                case Persist(op, origin):
                    self._batch.append(action)
                    if origin is None and isinstance(op, AckOp | DeliveredOp):
                        self._fold_ack()
                    else:
                        self._batch_ready.set()
                case Close(conn, code, reason):
                    if (link := self._links.get(conn)) is not None:
                        link.close(code, reason)
                case LoadPending():
                    if carried := self._carried_page(action):  # no read: another node's notice
                        event = PendingLoaded(action.conn, action.after_seq, carried, self._clock())
                        asyncio.get_running_loop().call_soon(self._dispatch, event)
                    else:
                        self._spawn(self._load(action))
                case QueryHistory() | QuerySearch():
                    if (link := self._links.get(action.conn)) is not None:
                        reply = link.reply_started()  # now: the reader looks before the task runs
                        self._spawn(self._query(action, link, reply))
                case QueryReceipts():
                    self._spawn(self._receipts(action))
                case RereadPeers():
                    self._reread(action)
                case RereadProposals():
                    self._proposals_changed.set()  # the next wake reads them
                    self._peers_changed.set()
                case Throttle(conn, seconds):
                    if (link := self._links.get(conn)) is not None:
                        link.throttle(seconds)
                case LoginFailed():
                    self._login_failed(action)
                case Damaged(recipient, seq, message_id, reason):
                    log.warning(
                        "damaged message %s (entry %d of %s's mailbox): %s; moved to the "
                        "dead letters, the rest is delivered ('ai-connect admin dead-letters')",
                        message_id or "(no id)", seq, recipient, reason,
                    )  # fmt: skip
                case Braked(conversation, parties, reason):
                    log.warning(
                        "loop brake: paused %s (%s): %s; `ai-connect admin resume` lifts it",
                        conversation, ", ".join(parties), reason,
                    )  # fmt: skip

    def _login_failed(self, failed: LoginFailed) -> None:
        """Logs a refused token at INFO (never the token) and holds its refusal."""
        held = f"; its answer held {failed.hold_s:g} s" if failed.hold_s else ""
        log.info(
            "failed login from %s as %s (%s): %s, %d from this address%s",
            failed.remote, neutralise(failed.name), neutralise(failed.project),
            failed.reason, failed.failures, held,
        )  # fmt: skip
        if failed.hold_s > 0 and (link := self._links.get(failed.conn)) is not None:
            link.throttle(failed.hold_s)  # nor is it read meanwhile
            link.hold(failed.hold_s)

    def _send(self, action: Send) -> None:
        if (link := self._links.get(action.conn)) is not None and not link.closing:
            data = action.data
            link.send(data if data is not None else encode(action.frame))

    def _fold_ack(self) -> None:
        """An ack nobody waits for waits for the next commit, at most ``ack_delay_s``."""
        if self._ack_timer is None:
            self._ack_timer = asyncio.get_running_loop().call_later(
                self.settings.ack_delay_s, self._batch_ready.set
            )

    async def _commit_loop(self) -> None:
        while True:
            await self._batch_ready.wait()
            await self._commit_once()

    async def _commit_once(self) -> None:
        self._commits_started += 1
        try:
            await self._commit_taken()
        finally:
            self._commits_done += 1
            done, self._commit_done = self._commit_done, asyncio.Event()
            done.set()

    async def _flushed(self) -> None:
        """Returns once every write routed so far is committed (or its commit failed):
        what waits in the batch (folded acks and delivery marks), and what a commit
        still running took from it. A receipt read after it sees them."""
        due = self._commits_started  # the commit running, if one is
        if self._batch:
            due += 1  # and the next, which takes the batch
            self._batch_ready.set()
        while self._commits_done < due:
            await self._commit_done.wait()

    async def _commit_taken(self) -> None:
        self._batch_ready.clear()
        persists, self._batch = self._batch, []
        if self._ack_timer is not None:  # the acks waiting go with this batch
            self._ack_timer.cancel()
            self._ack_timer = None
        if not persists:
            return
        started = time.perf_counter()
        try:
            result = await self._store(self.store.commit, write_batch(persists))
        except StoreError as exc:
            log.error("commit of %d writes failed: %s", len(persists), exc)
            self._dispatch(CommitFailed(tuple(persists), str(exc)))
            return
        for meanwhile in self._proposal_reads:
            meanwhile.update(p.op.id for p in persists if isinstance(p.op, ProposalRecord))
        self.commit_times.observe(time.perf_counter() - started)
        event = committed(persists, result, self._clock())
        if self._batch and self._overlap:
            # Answered at the start of the next loop turn: the commit loop first hands
            # the batch that gathered meanwhile to the writer, and the database commits
            # it while this one's replies are worked out here (base.commits_elsewhere).
            # No event overtakes it: a read that returned meanwhile (it may be newer
            # than this commit) is dispatched after it (``_dispatch``).
            self._answers.append(event)
            asyncio.get_running_loop().call_soon(self._answer)
        else:  # nothing waits (a lone message's reply not a turn later), or SQLite
            self._dispatch(event)

    async def _tick_loop(self) -> None:
        interval = max(0.05, min(5.0, self.settings.presence_timeout_s / 4))
        while True:
            await asyncio.sleep(interval)
            self._dispatch(Tick(self._clock()))

    async def _read_proposals(self) -> None:
        """Re-reads the proposals after another node changed one (several: one read);
        before the peers, so that a verdict's mail delivered here finds it decided.

        A proposal this node committed while a read ran may be older or newer in that
        read than here (its snapshot may predate the commit, or follow it and another
        node's change after it): such proposals are not taken from it, and read again,
        at most ``PROPOSAL_READS`` times (then on the next wake)."""
        for _ in range(PROPOSAL_READS):
            self._proposals_changed.clear()
            meanwhile: set[str] = set()
            self._proposal_reads.append(meanwhile)
            try:
                records = await self._read(self.store.proposals)
            except StoreError as exc:
                log.warning(
                    "re-reading the proposals after another node's commit failed "
                    "(again in %g s): %s",
                    self._reread_retry_s, exc,
                )  # fmt: skip
                self._proposals_changed.set()
                self._reread_later()
                return
            finally:
                self._proposal_reads.remove(meanwhile)
            fresh = tuple(r for r in records if r.id not in meanwhile)
            self._dispatch(ProposalsStored(fresh, self._clock()))
            if not meanwhile:
                return
        self._proposals_changed.set()
        self._peers_changed.set()

    async def _tokens_loop(self) -> None:
        while True:
            await wait_event(self._tokens_changed, self.settings.auth_reload_s)
            self._tokens_changed.clear()
            try:
                await self.reload_tokens()
            except StoreError as exc:
                log.warning("re-reading the auth tokens failed (kept the old ones): %s", exc)

    def _reread_all(self) -> None:
        """Another node's commit changed more than mailboxes (or a notice may have been
        missed): the next wake re-reads the peers."""
        self._full_reread = True
        self._peers_changed.set()

    def _reread_later(self) -> None:
        """A re-read failed (the database away, or a connection it closed): it is made
        again later, doubling the wait up to ``REREAD_RETRY_MAX_S``. Nothing else may
        come to wake this node: the notices it missed while the database was away (its
        reconnect's re-read is what stood for them) are not sent again."""
        if self._reread_timer is not None:
            return  # one is due already: it re-reads all of it
        self._reread_timer = asyncio.get_running_loop().call_later(
            self._reread_retry_s, self._reread_due
        )
        self._reread_retry_s = min(REREAD_RETRY_MAX_S, 2 * self._reread_retry_s)

    def _reread_due(self) -> None:
        self._reread_timer = None
        self._reread_all()

    def _moved(
        self,
        tips: dict[str, int],
        acked: dict[str, int],
        entries: tuple[MailboxEntry, ...] = (),
    ) -> None:
        """Another node's commit moved these mailboxes (tips) and cursors (acked); it
        carried these new entries (kept for the recipients held here, ``_carried``)."""
        for address, tip in tips.items():
            self._tips[address] = max(tip, self._tips.get(address, tip))
        for address, seq in acked.items():
            self._acked[address] = max(seq, self._acked.get(address, seq))
        held = self.router.held
        self._arriving += [entry for entry in entries if held(entry.recipient)]
        self._peers_changed.set()

    def _keep(self, entries: list[MailboxEntry]) -> None:
        """Keeps carried entries for the loads of their mailboxes (``_carried``)."""
        held = self.router.held
        for gone in [a for a in self._carried if not held(a)]:  # disconnected meanwhile
            del self._carried[gone]
        for entry in entries:
            if held(entry.recipient):
                kept = self._carried.setdefault(entry.recipient, {})
                kept[entry.seq] = entry
                if len(kept) > CARRIED_MOST:  # never taken (a load read them): the oldest go
                    del kept[min(kept)]

    def _carried_page(self, load: LoadPending) -> tuple[MailboxEntry, ...]:
        """The page ``load`` asks for, as far as notices carried it: the entries right
        after ``load.after_seq``, in a row, within its count and (after the first) its
        bytes, as the store would read them; empty if the first is missing."""
        kept = self._carried.get(load.recipient)
        if not kept:
            return ()
        for seq in [s for s in kept if s <= load.after_seq]:  # known here already
            del kept[seq]
        page: list[MailboxEntry] = []
        total, seq = 0, load.after_seq + 1
        while seq in kept and len(page) < load.limit:
            total += message_bytes(kept[seq].message)
            if page and total > load.max_bytes:
                break
            page.append(kept.pop(seq))
            seq += 1
        if not kept:
            del self._carried[load.recipient]
        return tuple(page)

    async def _peers_loop(self) -> None:
        """Re-reads the peers after other nodes' commits (several at once: one read), so
        that mail they stored reaches the connections held here (bridge/cluster.py).

        A send to a peer unknown here, or a vote on a proposal unknown here
        (``RereadPeers``), is handed in again after the read (of the proposals too); if
        its peer is still unknown (registered elsewhere, its record not yet
        committed there), it waits for the next read, at most ``REREAD_WAIT_S``, and is
        refused after that.
        """
        loop = asyncio.get_running_loop()
        while True:
            await self._peers_changed.wait()
            self._peers_changed.clear()
            waiting, self._rereads = self._rereads, []
            full, self._full_reread = self._full_reread or bool(waiting), False
            tips, acked, self._tips, self._acked = self._tips, self._acked, {}, {}
            arriving, self._arriving = self._arriving, []
            if self._proposals_changed.is_set() or any(r.frame is not None for r in waiting):
                await self._read_proposals()  # a waiting frame may name a new proposal
            # Claims and releases made on other nodes (docs/protocol.md §10), read before
            # the peers: mail that the peers' read brings in was sent after them. Only
            # after a commit that changed leases (its notice comes first): one read less
            # on the path of every other cross-node message.
            if self._leases_changed.is_set():
                self._leases_changed.clear()
                try:
                    leases = await self._read(self.store.leases)
                except StoreError as exc:
                    log.warning("re-reading the leases after another node's commit failed: %s", exc)
                    self._leases_changed.set()  # try again on the next wake
                else:
                    self._dispatch(LeasesStored(tuple(leases), self._clock()))
            if tips or acked:  # known from the notices: no read on a message's path
                self._keep(arriving)  # what they carried, now that it may be delivered
                event = TipsStored(tuple(tips.items()), tuple(acked.items()), self._clock())
                self._dispatch(event)
            if not full:
                continue
            try:
                records = await self._read(self.store.peers)
                works = await self._read(self.store.works)  # statuses published elsewhere
            except StoreError as exc:
                log.warning(
                    "re-reading the peers after another node's commit failed (again in %g s): %s",
                    self._reread_retry_s, exc,
                )  # fmt: skip
                self._reread_later()
            else:
                self._reread_retry_s = REREAD_RETRY_S
                self._dispatch(PeersStored(tuple(records), self._clock(), tuple(works)))
            await self._read_sessions()
            now = loop.time()
            for reread in waiting:  # in their order
                if reread.frame is None:
                    continue
                deadline = self._parked.pop(id(reread.frame), None) or now + REREAD_WAIT_S
                final = now >= deadline
                self._redispatching = (reread.frame, deadline)
                try:
                    frame = FrameReceived(reread.conn, reread.frame, self._clock(), True, final)
                    self._dispatch(frame)
                finally:
                    self._redispatching = None

    async def _read_sessions(self) -> None:
        """Reads which sessions the other nodes hold (their heartbeats) into the router."""
        if not isinstance(self.store, Watched):
            return
        try:
            held = await self._read(self.store.elsewhere, self.settings.presence_timeout_s)
            nodes = await self._read(self.store.nodes)
        except StoreError as exc:
            log.warning("reading the other nodes' sessions failed: %s", exc)
            return
        sessions = tuple((a, s) for a, (s, _) in held.items())
        since = tuple((a, t) for a, (_, t) in held.items())
        self._dispatch(SessionsElsewhere(sessions, self._clock(), tuple(nodes), since))

    async def _beat_loop(self, store: Watched) -> None:
        """This node's heartbeat with the sessions it holds: at once when they change
        (a hello, a disconnect), else every few seconds; then the others' sessions are
        read again (a dead node's go offline once its heartbeat is too old)."""
        interval = max(0.05, min(5.0, self.settings.presence_timeout_s / 4))
        last: dict[str, str | None] | None = None
        url = self.url if self.settings.listen else "accept-only"
        while True:
            await wait_event(self._sessions_dirty, interval)
            self._sessions_dirty.clear()
            sessions = self.router.sessions()
            changed = sessions != last
            since, timeout = self.router.registered(), self.settings.presence_timeout_s
            try:
                await self._store(store.beat, url, sessions, changed, since, timeout)
                last = sessions
            except StoreError as exc:
                log.warning("this node's heartbeat failed: %s", exc)
            await self._read_sessions()

    def _reread(self, action: RereadPeers) -> None:
        """Queues ``action`` for the peers loop (a frame still unknown after a read waits
        there for the next one, or its deadline)."""
        again = self._redispatching
        if again is not None and action.frame is again[0]:
            self._parked[id(action.frame)] = again[1]
            self._rereads.append(action)
            delay = max(0.0, again[1] - asyncio.get_running_loop().time())
            asyncio.get_running_loop().call_later(delay, self._reread_all)
            return
        self._rereads.append(action)
        self._reread_all()

    async def reload_tokens(self) -> None:
        """Re-reads the stored tokens; a change reaches the router (revocations close)."""
        tokens = tuple(await self._read(self.store.tokens))
        if tokens != self._tokens:
            self._tokens = tokens
            log.info("auth tokens changed: %d stored", len(tokens))
            self._dispatch(TokensChanged(tokens, self._clock()))

    async def _load(self, action: LoadPending) -> None:
        a = action
        try:
            entries, prepared = await self._read(
                mailbox_page, self.store, a.recipient, a.after_seq, a.limit, a.max_bytes
            )
        except StoreError as exc:
            log.error("loading the mailbox of %s failed: %s", action.recipient, exc)
            entries, prepared = (), ()
        loaded = PendingLoaded(action.conn, action.after_seq, entries, self._clock(), prepared)
        self._dispatch(loaded)

    async def _receipts(self, action: QueryReceipts) -> None:
        """Reads a message's receipts on a reader thread, after the acks and delivery
        marks folded into the next commit are stored; the router answers (§3.7)."""
        await self._flushed()
        try:
            found = await self._read(self.store.receipts, action.message_id)
        except StoreError as exc:
            log.error("reading the receipts of %s failed: %s", action.message_id, exc)
            failed = ReceiptsLoaded(
                action.conn, action.rid, action.message_id, None, self._clock(), str(exc)
            )
            self._dispatch(failed)
            return
        loaded = ReceiptsLoaded(action.conn, action.rid, action.message_id, found, self._clock())
        self._dispatch(loaded)

    async def _query(self, action: QueryHistory | QuerySearch, link: Link, reply: Reply) -> None:
        """Answers a query from a reader thread; its reply is built and encoded there too.

        The link counts it from its dispatch to its reply (its reader waits for a reply
        past ``LinkLimits.max_replies``), and the messages it carried are charged to the
        connection's rate (``Answered``).
        """
        text: str | None = None
        messages = 0
        try:
            text, messages = await self._read(answer, self.store, action)
        finally:
            link.reply_done(reply, text)
        if messages > 1:
            self._dispatch(Answered(action.conn, messages, self._clock()))
