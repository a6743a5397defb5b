"""The bridge's I/O shell: websockets, the group-commit writer, timers, store calls.

Everything that decides lives in :mod:`ai_connect.bridge.core`; this module turns socket
reads, timer ticks and store results into events and carries out the router's actions.
The store is owned by one worker thread: each loop turn's writes go to it as one batch
(one thread hop and one transaction per batch, never per message).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import ssl
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response
from websockets.protocol import State

from ai_connect import __version__
from ai_connect.bridge.core import CLOSE_GOING_AWAY, CLOSE_POLICY, Router, RouterConfig
from ai_connect.bridge.events import (
    Action,
    BadFrame,
    Close,
    CommitFailed,
    Committed,
    Connected,
    Disconnected,
    Event,
    FrameReceived,
    LoadPending,
    PendingLoaded,
    Persist,
    QueryHistory,
    QuerySearch,
    Send,
    Throttle,
    Tick,
    TokensChanged,
)
from ai_connect.bridge.store.base import (
    AckOp,
    AppendOp,
    PeerRecord,
    ProposalRecord,
    Store,
    TokenRecord,
    WriteBatch,
)
from ai_connect.bridge.views import message_view, new_message_id
from ai_connect.errors import FrameError, StoreError
from ai_connect.protocol import (
    Error,
    ErrorCode,
    HistoryPage,
    Limits,
    SearchResults,
    ServerFrame,
    decode_client,
    encode,
)
from ai_connect.redaction import Redacting, redact

__all__ = ["BridgeServer", "ServerSettings"]

log = logging.getLogger("ai_connect.bridge")


@dataclass(frozen=True, slots=True)
class ServerSettings:
    host: str = "127.0.0.1"
    port: int = 9999
    limits: Limits = field(default_factory=Limits)
    presence_timeout_s: float = 60.0
    retention_s: float = 30 * 86400.0
    max_queued_frames: int = 4096
    """Frames waiting to be written to one connection before it is closed as stuck."""
    ssl: ssl.SSLContext | None = None
    """Serve ``wss://`` with this context (``ai_connect.tls.server_context``)."""
    require_auth: bool = False
    """Auth on even while no token exists (docs/security.md)."""
    auth_reload_s: float = 2.0
    """How often the stored tokens are re-read (``ai-connect token`` writes from outside)."""


_CLOSE = object()
_WRITE_BATCH_BYTES = 64 * 1024
"""Bytes of frames written to one link at once; then websockets' flow control applies."""


@dataclass(slots=True)
class _Link:
    ws: ServerConnection
    log: logging.LoggerAdapter[logging.Logger]
    queue: deque[Any] = field(default_factory=deque)
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    closing: bool = False
    pause: float = 0.0
    """Seconds to wait before reading its next frame (rate limit, protocol §5.1)."""


class BridgeServer:
    """Serves protocol v1 on a WebSocket port. Use ``async with`` or start/close."""

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
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="ai-connect-store")
        self._router: Router | None = None
        self._ids = ids or new_message_id()
        self._links: dict[int, _Link] = {}
        self._conn_ids = itertools.count(1)
        self._batch: list[Persist] = []
        self._batch_ready = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self._server: Server | None = None
        self._closing = False
        self._tokens: tuple[TokenRecord, ...] = ()

    # --- lifecycle --------------------------------------------------------------------

    @property
    def router(self) -> Router:
        if self._router is None:
            raise RuntimeError("BridgeServer is not started; call start() first")
        return self._router

    @property
    def port(self) -> int:
        """The port actually bound (useful with port 0)."""
        if self._server is None:
            raise RuntimeError("BridgeServer is not started; call start() first")
        return int(next(iter(self._server.sockets)).getsockname()[1])

    @property
    def url(self) -> str:
        host = self.settings.host
        host = f"[{host}]" if ":" in host else host
        scheme = "wss" if self.settings.ssl is not None else "ws"
        return f"{scheme}://{host}:{self.port}"

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        peers = await loop.run_in_executor(self._executor, self.store.peers)
        self._tokens = tuple(await loop.run_in_executor(self._executor, self.store.tokens))
        proposals = await loop.run_in_executor(self._executor, self.store.proposals)
        config = RouterConfig(
            server_version=__version__,
            storage=self.store.kind,
            started_at=self._clock(),
            limits=self.settings.limits,
            presence_timeout_s=self.settings.presence_timeout_s,
            retention_s=self.settings.retention_s,
            require_auth=self.settings.require_auth,
        )
        self._router = Router(config, peers, self._ids, self._tokens, proposals)
        keepalive = max(1.0, min(20.0, self.settings.presence_timeout_s / 2))
        self._server = await serve(
            self._handle,
            self.settings.host,
            self.settings.port,
            compression=None,
            max_size=self.settings.limits.hard_frame_bytes,
            ping_interval=keepalive,
            ping_timeout=keepalive,
            process_request=self._http,
            ssl=self.settings.ssl,
            server_header=f"ai-connect/{__version__}",
            logger=Redacting(logging.getLogger("ai_connect.bridge.ws")),
        )
        self._spawn(self._commit_loop())
        self._spawn(self._tick_loop())
        self._spawn(self._tokens_loop())
        log.info(
            "bridge listening on %s (storage: %s, %d known peers)",
            self.url,
            self.store.kind,
            len(peers),
        )

    async def close(self) -> None:
        """Stops accepting, closes every link, flushes the last batch, closes the store."""
        if self._closing:
            return
        self._closing = True
        if self._server is not None:
            self._server.close(close_connections=False)
            for link in list(self._links.values()):
                self._close_link(link, CLOSE_GOING_AWAY, "bridge shutting down")
            await self._server.wait_closed()
        while self._batch:
            await self._commit_once()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await asyncio.get_running_loop().run_in_executor(self._executor, self.store.close)
        self._executor.shutdown(wait=True)
        log.info("bridge stopped")

    async def __aenter__(self) -> BridgeServer:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def serve_forever(self) -> None:
        assert self._server is not None
        await self._server.serve_forever()

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
        if request.headers.get("Upgrade", "").lower() != "websocket":
            return ws.respond(
                HTTPStatus.UPGRADE_REQUIRED,
                "ai-connect bridge: connect with a WebSocket client "
                "(ai-connect status --bridge ws://HOST:PORT)\n",
            )
        return None

    # --- connections ------------------------------------------------------------------

    async def _handle(self, ws: ServerConnection) -> None:
        conn = next(self._conn_ids)
        remote = ws.remote_address
        where = f"{remote[0]}:{remote[1]}" if remote else "?"
        link = _Link(ws, logging.LoggerAdapter(log, {"conn": conn, "remote": where}))
        self._links[conn] = link
        writer = asyncio.create_task(self._writer(link))
        link.log.info("connection %d from %s", conn, where)
        self._dispatch(Connected(conn, self._clock(), where))
        max_bytes = self.settings.limits.max_frame_bytes
        debug = log.isEnabledFor(logging.DEBUG)
        try:
            async for raw in ws:
                if debug:  # never the token (docs/security.md)
                    text = raw if isinstance(raw, str) else raw.decode(errors="replace")
                    link.log.debug("conn %d <- %.200r", conn, redact(text))
                try:
                    frame = decode_client(raw, max_bytes)
                except FrameError as exc:
                    self._dispatch(BadFrame(conn, exc, self._clock()))
                else:
                    self._dispatch(FrameReceived(conn, frame, self._clock()))
                if link.pause > 0:
                    # Over its rate (§5.1): its next frames wait in its own socket buffers.
                    pause, link.pause = link.pause, 0.0
                    await asyncio.sleep(pause)
        except ConnectionClosed:
            pass
        finally:
            self._links.pop(conn, None)
            address = self.router.address_of(conn)
            self._dispatch(Disconnected(conn, self._clock()))
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await writer
            link.log.info(
                "connection %d closed (%s, code %s)", conn, address or "unregistered", ws.close_code
            )

    async def _writer(self, link: _Link) -> None:
        """Writes the link's queued frames, up to ``_WRITE_BATCH_BYTES`` per socket write.

        ``ws.send()`` costs one ``transport.write`` (one syscall, and one TCP segment
        under TCP_NODELAY) per frame. A loop turn often queues many frames for one link
        (a commit's ``accepted``/``deliver`` frames), so they are framed one by one
        through websockets' Sans-I/O protocol, as its own ``broadcast()`` does, and their
        bytes leave in one write. ``ws.drain()`` then applies websockets' flow control:
        it waits while the transport's buffer is above its high-water mark, so at most
        one batch sits above it, as with ``send()``. Nothing here awaits between framing
        and writing, so no other writer (keepalive pings, pongs) can interleave.
        """
        ws = link.ws
        protocol = ws.protocol
        try:
            while True:
                await link.ready.wait()
                link.ready.clear()
                while link.queue:
                    if protocol.state is not State.OPEN:
                        return  # closing: the reader sees the close and dispatches it
                    if isinstance(link.queue[0], tuple):
                        code, reason = link.queue.popleft()
                        await ws.close(code, reason)
                        return
                    size = 0
                    while size < _WRITE_BATCH_BYTES and link.queue:
                        if isinstance(link.queue[0], tuple):
                            break
                        data = link.queue.popleft().encode()
                        protocol.send_text(data)
                        size += len(data)
                    # Only text frames since the last write: no end-of-stream marker.
                    ws.transport.writelines(protocol.data_to_send())
                    await ws.drain()
        except (ConnectionClosed, OSError):
            # The reader notices the same close or failure and dispatches Disconnected.
            pass

    def _close_link(self, link: _Link, code: int, reason: str) -> None:
        if not link.closing:
            link.closing = True
            link.queue.append((code, reason))
            link.ready.set()

    # --- carrying out actions ---------------------------------------------------------

    def _dispatch(self, event: Event) -> None:
        self._apply(self.router.handle(event))

    def _apply(self, actions: list[Action]) -> None:
        for action in actions:
            match action:
                case Send(conn, frame):
                    self._send(conn, frame)
                case Persist():
                    self._batch.append(action)
                    self._batch_ready.set()
                case Close(conn, code, reason):
                    link = self._links.get(conn)
                    if link is not None:
                        link.log.info("closing connection %d: %s", conn, reason)
                        self._close_link(link, code, reason)
                case LoadPending():
                    self._spawn(self._load(action))
                case QueryHistory() | QuerySearch():
                    self._spawn(self._query(action))
                case Throttle(conn, seconds):
                    link = self._links.get(conn)
                    if link is not None:
                        link.pause = max(link.pause, seconds)

    def _send(self, conn: int, frame: ServerFrame) -> None:
        link = self._links.get(conn)
        if link is None or link.closing:
            return
        if len(link.queue) >= self.settings.max_queued_frames:
            self._close_link(link, CLOSE_POLICY, "not reading its frames")
            return
        link.queue.append(encode(frame))
        link.ready.set()

    async def _commit_loop(self) -> None:
        while True:
            await self._batch_ready.wait()
            await self._commit_once()

    async def _commit_once(self) -> None:
        self._batch_ready.clear()
        persists, self._batch = self._batch, []
        if not persists:
            return
        batch = WriteBatch()
        for p in persists:
            match p.op:
                case PeerRecord():
                    batch.peers.append(p.op)
                case AppendOp():
                    batch.appends.append(p.op)
                case AckOp():
                    batch.acks.append(p.op)
                case ProposalRecord():
                    batch.proposals.append(p.op)
        loop = asyncio.get_running_loop()
        try:
            result = await loop.run_in_executor(self._executor, self.store.commit, batch)
        except StoreError as exc:
            log.error("commit of %d writes failed: %s", len(persists), exc)
            self._dispatch(CommitFailed(tuple(persists), str(exc)))
            return
        appends = [p for p in persists if isinstance(p.op, AppendOp)]
        acks = tuple(p for p in persists if isinstance(p.op, AckOp))
        proposals = tuple(p for p in persists if isinstance(p.op, ProposalRecord))
        appended = tuple(zip(appends, result.appends, strict=True))
        self._dispatch(Committed(appended, acks, proposals))

    async def _tick_loop(self) -> None:
        interval = max(0.05, min(5.0, self.settings.presence_timeout_s / 4))
        while True:
            await asyncio.sleep(interval)
            self._dispatch(Tick(self._clock()))

    async def _tokens_loop(self) -> None:
        while True:
            await asyncio.sleep(self.settings.auth_reload_s)
            try:
                await self.reload_tokens()
            except StoreError as exc:
                log.warning("re-reading the auth tokens failed (kept the old ones): %s", exc)

    async def reload_tokens(self) -> None:
        """Re-reads the stored tokens; a change reaches the router (revocations close)."""
        loop = asyncio.get_running_loop()
        tokens = tuple(await loop.run_in_executor(self._executor, self.store.tokens))
        if tokens != self._tokens:
            self._tokens = tokens
            log.info("auth tokens changed: %d stored", len(tokens))
            self._dispatch(TokensChanged(tokens, self._clock()))

    async def _load(self, action: LoadPending) -> None:
        loop = asyncio.get_running_loop()
        try:
            entries = await loop.run_in_executor(
                self._executor,
                self.store.pending,
                action.recipient,
                action.after_seq,
                action.limit,
                action.max_bytes,
            )
        except StoreError as exc:
            log.error("loading the mailbox of %s failed: %s", action.recipient, exc)
            entries = []
        self._dispatch(PendingLoaded(action.conn, action.after_seq, tuple(entries)))

    async def _query(self, action: QueryHistory | QuerySearch) -> None:
        loop = asyncio.get_running_loop()
        frame: ServerFrame
        try:
            if isinstance(action, QueryHistory):
                messages, before = await loop.run_in_executor(
                    self._executor,
                    self.store.history,
                    action.viewer,
                    action.peer,
                    action.limit,
                    action.before,
                )
                frame = HistoryPage(
                    rid=action.rid, messages=[message_view(m) for m in messages], before=before
                )
            else:
                found = await loop.run_in_executor(
                    self._executor, self.store.search, action.viewer, action.query, action.limit
                )
                frame = SearchResults(rid=action.rid, messages=[message_view(m) for m in found])
        except StoreError as exc:
            frame = Error(
                rid=action.rid,
                code=ErrorCode.INTERNAL,
                message=str(exc),
                hint="try again; if it persists, check the bridge's log",
            )
        self._send(action.conn, frame)
