"""BridgeClient: the one client library every surface (CLI, MCP, hooks) stands on.

It registers with ``hello``, matches replies to requests by ``rid`` (never by waiting),
reconnects with backoff and jitter, resumes after the last handled message, keeps an
outbox so a send made during an outage goes out after reconnect (same ``cid``, so the
bridge stores it once), and hands each delivered message to the agent exactly once.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import random
import secrets
import ssl as ssl_module
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, TypeVar

from pydantic import ValidationError
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidMessage, InvalidURI

from ai_connect import __version__, tls
from ai_connect.client.consensus import ConsensusMixin
from ai_connect.client.mailbox import Inbox, Message
from ai_connect.errors import (
    BridgeError,
    FrameError,
    LocalProtocolError,
    NotConnected,
    RequestRejected,
    RequestTimeout,
    TlsError,
    UnknownPeer,
)
from ai_connect.protocol import (
    PROTOCOL_VERSION,
    Accepted,
    Ack,
    Acked,
    AdminHistory,
    AdminStatus,
    BridgeReport,
    ClientInfo,
    Deliver,
    Error,
    Hello,
    History,
    HistoryPage,
    PeerList,
    Peers,
    PeerView,
    Ping,
    Presence,
    Rid,
    Search,
    SearchResults,
    Send,
    Status,
    StatusReport,
    Welcome,
    decode_server,
    encode,
)
from ai_connect.redaction import Redacting

__all__ = ["BridgeClient", "LinkState", "Receipt", "backoff"]

log = logging.getLogger("ai_connect.client")
_WS_LOG = Redacting(logging.getLogger("websockets.client"))
"""websockets' own DEBUG lines show frames: the hello's token must not be among them."""

_R = TypeVar("_R")


def backoff(
    initial: float = 0.2,
    maximum: float = 10.0,
    factor: float = 1.8,
    jitter: Callable[[], float] = random.random,
) -> Iterator[float]:
    """Reconnect delays: exponential with full jitter, capped at ``maximum``."""
    delay = initial
    while True:
        yield delay * (0.5 + jitter() / 2)
        delay = min(maximum, delay * factor)


class LinkState(StrEnum):
    CONNECTING = "connecting"
    CONNECTED = "connected"
    RECONNECTING = "reconnecting"
    CLOSED = "closed"


@dataclass(frozen=True, slots=True)
class Receipt:
    """What became of a send: ``accepted`` by the bridge, or ``queued`` in our outbox."""

    cid: str
    state: str
    id: str | None = None
    to: str | None = None
    recipients: tuple[str, ...] = ()
    online: tuple[str, ...] = ()
    ts: float | None = None
    duplicate: bool = False

    @property
    def offline(self) -> tuple[str, ...]:
        """Recipients that were not connected: the message waits in their mailbox."""
        return tuple(r for r in self.recipients if r not in self.online)


@dataclass(slots=True)
class _Outgoing:
    frame: Send
    future: asyncio.Future[Receipt]


class BridgeClient(ConsensusMixin):
    """An asyncio client of one bridge, as one peer. Use ``async with``."""

    def __init__(
        self,
        url: str,
        name: str,
        project: str,
        *,
        token: str | None = None,
        session: str | None = None,
        kind: str = "library",
        presence: bool = False,
        attach: bool = False,
        request_timeout: float = 10.0,
        connect_timeout: float = 5.0,
        heartbeat_s: float = 20.0,
        keepalive_s: float = 5.0,
        reconnect: bool = True,
        reconnect_delays: Callable[[], Iterator[float]] = backoff,
        clock: Callable[[], float] = time.time,
        ssl: ssl_module.SSLContext | None = None,
        fingerprint: str | None = None,
    ) -> None:
        self.url, self.name, self.project = url, name, project
        self.session = session or secrets.token_hex(8)
        self.request_timeout, self.connect_timeout = request_timeout, connect_timeout
        self._token, self._kind, self._presence = token, kind, presence
        self._attach = attach
        """Act for this session's live address beside its owner (protocol §2.2)."""
        self._heartbeat_s, self._keepalive_s = heartbeat_s, keepalive_s
        self._reconnect, self._delays, self._clock = reconnect, reconnect_delays, clock
        self._pin = tls.normalise_fingerprint(fingerprint) if fingerprint else None
        """SHA-256 of the bridge's certificate: checked before hello (ai_connect.tls)."""
        if ssl is None and (self._pin is not None or url.lower().startswith("wss://")):
            ssl = tls.client_context(url, None, self._pin)  # default: the system's store
        self._ssl = ssl
        self.address: str | None = None
        self.welcome: Welcome | None = None
        self.state = LinkState.CLOSED
        self.state_since = clock()
        self.last_error: str | None = None
        self.inbox = Inbox()
        self._ws: ClientConnection | None = None
        self._rids = itertools.count(1)
        self._pending: dict[Rid, asyncio.Future[Any]] = {}
        self._outbox: OrderedDict[str, _Outgoing] = OrderedDict()
        self._arrived = asyncio.Event()
        self._connected = asyncio.Event()
        self._disconnected = asyncio.Event()
        self._disconnected.set()
        self._closed = asyncio.Event()
        self._runner: asyncio.Task[None] | None = None
        self._reader: asyncio.Task[None] | None = None
        self._listeners: list[Callable[[Message | Presence], None]] = []
        self._state_waiters: list[tuple[LinkState, asyncio.Future[None]]] = []

    # --- lifecycle --------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        return self.state is LinkState.CONNECTED

    async def connect(self, *, wait: bool = True) -> None:
        """Opens the link. ``wait=False`` returns at once and keeps trying in the background."""
        self._closed.clear()
        self._set_state(LinkState.CONNECTING)
        if wait:
            try:
                ws = await self._open()
            except BridgeError:
                self._set_state(LinkState.CLOSED)
                raise
            self._runner = asyncio.create_task(self._run(ws))
        else:
            self._runner = asyncio.create_task(self._run(None))

    async def close(self) -> None:
        self._closed.set()
        if self._ws is not None:
            await self._ws.close()
        if self._runner is not None:
            self._runner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._runner
        self._fail_pending(NotConnected("the client was closed"))
        for item in self._outbox.values():
            if not item.future.done():
                item.future.set_exception(NotConnected("the client was closed before sending"))
        self._set_state(LinkState.CLOSED)

    async def __aenter__(self) -> BridgeClient:
        await self.connect()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    def add_listener(self, callback: Callable[[Message | Presence], None]) -> None:
        """Calls ``callback`` with each new message (and presence event) as it arrives."""
        self._listeners.append(callback)

    async def wait_connected(self, timeout: float) -> None:
        try:
            await asyncio.wait_for(self._connected.wait(), timeout)
        except TimeoutError as exc:
            raise NotConnected(self._not_connected_text()) from exc

    async def wait_disconnected(self) -> None:
        """Returns once the link is down (at once if it is); with ``reconnect=False``, for good."""
        await self._disconnected.wait()

    async def wait_state(self, state: LinkState, timeout: float) -> None:
        """Returns once the link is (or has passed through) ``state``; else RequestTimeout."""
        if self.state is state:
            return
        waiter = asyncio.get_running_loop().create_future()
        entry = (state, waiter)
        self._state_waiters.append(entry)
        try:
            await asyncio.wait_for(waiter, timeout)
        except TimeoutError as exc:
            raise RequestTimeout(
                f"the link did not become {state} within {timeout:g} s; it is {self.state}"
            ) from exc
        finally:
            self._state_waiters.remove(entry)

    # --- requests ---------------------------------------------------------------------

    async def send(
        self,
        to: str,
        body: str,
        *,
        context: dict[str, Any] | None = None,
        thread: str | None = None,
        reply_to: str | None = None,
        cid: str | None = None,
        timeout: float | None = None,
        queue: bool = False,
    ) -> Receipt:
        """Sends a message and returns once the bridge has durably stored it.

        Not connected: raises :class:`NotConnected`, or with ``queue=True`` keeps the
        message in the outbox, sends it after reconnect and returns a ``queued`` receipt.
        """
        if not self.connected and not queue:
            raise NotConnected(self._not_connected_text())
        cid = cid or secrets.token_hex(12)
        frame = Send(
            rid=f"s-{cid}",
            cid=cid,
            to=to,
            body=body,
            context=context,
            thread=thread,
            reply_to=reply_to,
        )
        loop = asyncio.get_running_loop()
        item = self._outbox.get(cid)
        if item is None:
            item = _Outgoing(frame, loop.create_future())
            # A queued send's outcome may never be awaited; mark it retrieved.
            item.future.add_done_callback(lambda f: f.cancelled() or f.exception())
        self._outbox[cid] = item
        if self.connected:
            try:
                await self._transmit(frame)
            except NotConnected:
                if not queue:
                    self._outbox.pop(cid, None)
                    raise
        if queue and not self.connected:
            return Receipt(cid, "queued")
        wait = self.request_timeout if timeout is None else timeout
        try:
            return await asyncio.wait_for(asyncio.shield(item.future), wait)
        except TimeoutError as exc:
            if queue:
                return Receipt(cid, "queued")
            self._outbox.pop(cid, None)
            raise RequestTimeout(
                f"the bridge did not confirm message {cid} within {wait:g} s; it may or may "
                f"not have been stored: sending again with cid={cid} is safe"
            ) from exc

    async def peers(self, include_offline: bool = True) -> list[PeerView]:
        reply = await self._request(
            Peers(rid=self._rid(), include_offline=include_offline), PeerList
        )
        return reply.peers

    async def history(
        self, peer: str | None = None, limit: int = 50, before: int | None = None
    ) -> HistoryPage:
        return await self._request(
            History(rid=self._rid(), peer=peer, limit=limit, before=before), HistoryPage
        )

    async def search(self, query: str, limit: int = 20) -> SearchResults:
        return await self._request(Search(rid=self._rid(), query=query, limit=limit), SearchResults)

    async def status(self) -> StatusReport:
        return await self._request(Status(rid=self._rid()), StatusReport)

    async def admin_status(self) -> BridgeReport:
        """Every peer's cursors and connections; needs an admin token (protocol §3.5)."""
        return await self._request(AdminStatus(rid=self._rid()), BridgeReport)

    async def admin_history(
        self, viewer: str, peer: str | None = None, limit: int = 50, before: int | None = None
    ) -> HistoryPage:
        """The history ``viewer`` sees (with ``peer``, one conversation); admin tokens only."""
        frame = AdminHistory(rid=self._rid(), viewer=viewer, peer=peer, limit=limit, before=before)
        return await self._request(frame, HistoryPage)

    # --- receiving --------------------------------------------------------------------

    def unread(self, sender: str | None = None) -> list[Message]:
        """Delivered messages not yet handled, oldest first."""
        return self.inbox.unhandled(sender)

    async def wait(self, timeout: float, sender: str | None = None) -> list[Message]:
        """Blocks until at least one unread message (from ``sender``) is here; ``[]`` on timeout."""
        deadline = asyncio.get_running_loop().time() + timeout
        while not (found := self.inbox.unhandled(sender)):
            self._arrived.clear()
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                return []
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._arrived.wait(), remaining)
        return found

    async def drain(self, timeout: float) -> list[Message]:
        """Waits until every message that was waiting at connect time has arrived.

        Returns the unread messages. Stops early when the bridge's flow-control window
        is full (handle and ``ack`` them, then call again) or when ``timeout`` passes.
        """
        welcome = self.welcome
        window = int(welcome.limits.get("window_messages", 256)) if welcome else 256
        window_bytes = int(welcome.limits.get("window_bytes", 1 << 20)) if welcome else 1 << 20
        goal = welcome.tip if welcome else 0
        deadline = asyncio.get_running_loop().time() + timeout
        while (
            self.inbox.received < goal
            and len(self.inbox) < window
            # The window also closes on bytes (§3.3): then nothing more comes until an ack.
            and sum(_flow_bytes(m) for m in self.inbox.unhandled()) < window_bytes
        ):
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                break
            self._arrived.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._arrived.wait(), min(remaining, 0.5))
            if self.inbox.received >= goal:
                break
        return self.inbox.unhandled()

    async def ack(self, messages: Iterable[Message], *, wait: bool = True) -> None:
        """Marks messages as shown to the agent; the bridge will not deliver them again.

        With ``wait`` returns only once the bridge has stored the ack.
        """
        self.inbox.mark_handled(messages)
        target = self.inbox.ack_target()
        if target <= self.inbox.acked:
            return
        if not self.connected:
            if wait:
                raise NotConnected(self._not_connected_text())
            return  # sent as the resume cursor of the next hello
        if wait:
            reply = await self._request(Ack(seq=target, rid=self._rid()), Acked)
            self.inbox.acked = max(self.inbox.acked, reply.seq)
        else:
            await self._transmit(Ack(seq=target))
            self.inbox.acked = target

    # --- internals: requests ----------------------------------------------------------

    def _rid(self) -> int:
        return next(self._rids)

    async def _request(self, frame: Any, expect: type[_R], timeout: float | None = None) -> _R:
        if not self.connected and not isinstance(frame, Hello):
            raise NotConnected(self._not_connected_text())
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[frame.rid] = future
        wait = self.request_timeout if timeout is None else timeout
        try:
            await self._transmit(frame)
            reply = await asyncio.wait_for(future, wait)
        except TimeoutError as exc:
            raise RequestTimeout(
                f"timed out waiting for the bridge to answer {frame.type}; waited {wait:g} s"
            ) from exc
        finally:
            self._pending.pop(frame.rid, None)
        if not isinstance(reply, expect):
            raise BridgeError(f"unexpected reply {reply.type} to {frame.type}")
        return reply

    async def _transmit(self, frame: Any) -> None:
        ws = self._ws
        if ws is None:
            raise NotConnected(self._not_connected_text())
        try:
            await ws.send(encode(frame))
        except ConnectionClosed as exc:
            raise NotConnected(f"the link to {self.url} closed: {exc}") from exc

    def _fail_pending(self, exc: BridgeError) -> None:
        for future in self._pending.values():
            if not future.done():
                future.set_exception(exc)
        self._pending.clear()

    def _not_connected_text(self) -> str:
        why = f" ({self.last_error})" if self.last_error else ""
        return (
            f"not connected to the bridge at {self.url}{why}; start it with "
            f"'ai-connect bridge' or point --bridge / AI_CONNECT_BRIDGE at it"
        )

    # --- internals: the link ----------------------------------------------------------

    def _set_state(self, state: LinkState) -> None:
        if state is not self.state:
            self.state, self.state_since = state, self._clock()
            for wanted, waiter in self._state_waiters:
                if wanted is state and not waiter.done():
                    waiter.set_result(None)
        if state is LinkState.CONNECTED:
            self._connected.set()
            self._disconnected.clear()
        else:
            self._connected.clear()
            self._disconnected.set()

    async def _open(self) -> ClientConnection:
        """Connects and registers; raises NotConnected, RequestRejected or LocalProtocolError."""
        hello = self._hello()
        try:
            ws = await asyncio.wait_for(
                connect(
                    self.url,
                    compression=None,
                    max_size=None,
                    ssl=self._ssl,
                    ping_interval=self._keepalive_s,
                    ping_timeout=self._keepalive_s,
                    open_timeout=self.connect_timeout,
                    # A dead link fails its keepalive ping; don't then wait the default
                    # 10 s for a close handshake that cannot come.
                    close_timeout=self._keepalive_s,
                    user_agent_header=f"ai-connect/{__version__}",
                    logger=_WS_LOG,
                ),
                self.connect_timeout,
            )
        except ssl_module.SSLError as exc:
            error = tls.describe_failure(self.url, exc)
            self.last_error = str(error)
            raise error from exc
        except (OSError, InvalidHandshake, InvalidURI, TimeoutError) as exc:
            self.last_error = f"{type(exc).__name__}: {exc}".strip()
            if isinstance(exc, InvalidMessage) and self.url.lower().startswith("ws://"):
                self.last_error += "; if the bridge serves wss://, use its wss:// URL"
            raise NotConnected(self._not_connected_text()) from exc
        if self._pin is not None:
            await self._check_pin(ws)
        self._ws = ws
        reader = asyncio.create_task(self._read(ws))
        try:
            welcome: Welcome = await self._request(hello, Welcome, self.connect_timeout)
        except BridgeError:
            reader.cancel()
            await ws.close()
            self._ws = None
            raise
        if self.address is not None and welcome.address != self.address:
            self.inbox = Inbox()  # another mailbox: our cursor means nothing there
        self.welcome, self.address = welcome, welcome.address
        self.inbox.reset(welcome.acked)
        self.last_error = None
        self._reader = reader
        # Resend the outbox before anyone may send anew, so per-sender order holds (§7).
        resent: set[str] = set()
        while backlog := [i for c, i in self._outbox.items() if c not in resent]:
            for item in backlog:
                await self._transmit(item.frame)
                resent.add(item.frame.cid)
        target = self.inbox.ack_target()
        if target > welcome.acked:
            await self._transmit(Ack(seq=target))
        self._set_state(LinkState.CONNECTED)
        log.info("connected to %s as %s (%d unread)", self.url, welcome.address, welcome.unread)
        return ws

    async def _check_pin(self, ws: ClientConnection) -> None:
        """Refuses the link unless the bridge's certificate has the pinned fingerprint."""
        ssl_object = ws.transport.get_extra_info("ssl_object")
        der = ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None
        found = tls.cert_fingerprint(der) if der else None
        if found == self._pin:
            return
        await ws.close()
        got = f"its certificate has fingerprint {found}" if found else "it sent no certificate"
        error = TlsError(
            f"TLS verification of {self.url} failed: {got}, not the pinned {self._pin}; "
            "check --fingerprint (AI_CONNECT_FINGERPRINT) against the one 'ai-connect bridge' "
            "printed. Nothing was sent."
        )
        self.last_error = str(error)
        raise error

    def _hello(self) -> Hello:
        try:
            return Hello(
                rid=self._rid(),
                protocol=PROTOCOL_VERSION,
                name=self.name,
                project=self.project,
                token=self._token,
                session=self.session,
                address=self.address,
                resume=(self.inbox.ack_target() or None) if self.address else None,
                presence=self._presence,
                attach=self._attach or None,
                client=ClientInfo(kind=self._kind, version=__version__),
            )
        except ValidationError as exc:
            why = "; ".join(str(e["msg"]) for e in exc.errors(include_url=False))
            raise LocalProtocolError(
                f"cannot register as {self.name!r} in project {self.project!r}: {why}; "
                "choose another name (--name, AI_CONNECT_PEER_NAME) or project (--project)"
            ) from exc

    async def _run(self, ws: ClientConnection | None) -> None:
        delays: Iterator[float] | None = None
        heartbeat = asyncio.create_task(self._heartbeat())
        try:
            while not self._closed.is_set():
                if ws is None:
                    try:
                        ws = await self._open()
                    except (RequestRejected, LocalProtocolError, TlsError) as exc:
                        self.last_error = str(exc)
                        log.error("giving up on %s: %s", self.url, exc)
                        self._set_state(LinkState.CLOSED)
                        return
                    except BridgeError as exc:
                        self.last_error = self.last_error or str(exc)
                if ws is not None:
                    delays = None
                    if self._closed.is_set():
                        # close() ran while we connected (it saw no link to close, and
                        # Python 3.11's wait_for can swallow its cancel): close it here.
                        await ws.close()
                    with contextlib.suppress(ConnectionClosed):
                        await ws.wait_closed()
                    self.last_error = f"link closed (code {ws.close_code}: {ws.close_reason})"
                    if self._reader is not None:
                        self._reader.cancel()
                    log.info("disconnected from %s: %s", self.url, self.last_error)
                    ws, self._ws = None, None
                self._fail_pending(NotConnected(self._not_connected_text()))
                if self._closed.is_set() or not self._reconnect:
                    break
                self._set_state(LinkState.RECONNECTING)
                delays = delays or self._delays()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._closed.wait(), next(delays))
        finally:
            heartbeat.cancel()
            if not self._reconnect or self._closed.is_set():
                self._set_state(LinkState.CLOSED)

    async def _heartbeat(self) -> None:
        while True:
            await asyncio.sleep(self._heartbeat_s)
            if self.connected:
                with contextlib.suppress(NotConnected):
                    await self._transmit(Ping())

    async def _read(self, ws: ClientConnection) -> None:
        with contextlib.suppress(ConnectionClosed):
            async for raw in ws:
                try:
                    frame = decode_server(raw)
                except FrameError as exc:
                    log.warning("ignoring a bad frame from the bridge: %s", exc)
                    continue
                self._on_frame(frame)
        # This link can answer nothing more: fail its requests now (a hello included),
        # rather than letting them wait out their timeouts.
        if self._ws is ws:
            self._fail_pending(
                NotConnected(
                    f"the link to {self.url} closed (code {ws.close_code}) before the bridge "
                    "answered; try again once the client has reconnected"
                )
            )

    def _on_frame(self, frame: Any) -> None:
        if isinstance(frame, Deliver):
            message = Message.from_frame(frame)
            if self.inbox.add(message):
                self._arrived.set()
                self._notify(message)
            return
        if isinstance(frame, Presence):
            self._notify(frame)
            return
        if isinstance(frame, Acked) and frame.rid is None:
            self.inbox.acked_elsewhere(frame.seq)  # shown through another connection
            return
        rid = getattr(frame, "rid", None)
        if isinstance(frame, Accepted) or (isinstance(rid, str) and rid.startswith("s-")):
            self._settle_send(frame)
            return
        future = self._pending.get(rid) if rid is not None else None
        if future is None:
            if isinstance(frame, Error):
                self.last_error = f"{frame.code}: {frame.message}"
                log.warning("bridge error: %s %s", frame.message, frame.hint)
            return
        if future.done():
            return
        if isinstance(frame, Error):
            future.set_exception(_rejection(frame))
        else:
            future.set_result(frame)

    def _settle_send(self, frame: Accepted | Error) -> None:
        cid = frame.cid if isinstance(frame, Accepted) else str(frame.rid)[2:]
        item = self._outbox.pop(cid, None)
        if item is None or item.future.done():
            return
        if isinstance(frame, Error):
            item.future.set_exception(_rejection(frame))
            self.last_error = f"{frame.code}: {frame.message}"
            return
        item.future.set_result(
            Receipt(
                cid=frame.cid,
                state="accepted",
                id=frame.id,
                to=frame.to,
                recipients=tuple(frame.recipients),
                online=tuple(frame.online),
                ts=frame.ts,
                duplicate=frame.duplicate,
            )
        )

    def _notify(self, item: Message | Presence) -> None:
        for callback in self._listeners:
            try:
                callback(item)
            except Exception:  # a listener's bug must not break delivery to the rest
                log.exception("message listener failed")


def _flow_bytes(message: Message) -> int:
    """A message's size as the bridge's flow control counts it (body plus context)."""
    size = len(message.body.encode())
    if message.context:
        size += len(json.dumps(message.context, separators=(",", ":")).encode())
    return size


def _rejection(frame: Error) -> RequestRejected:
    if frame.code in ("unknown_peer", "ambiguous_peer"):
        return UnknownPeer(frame.code, frame.message, frame.hint, tuple(frame.candidates or ()))
    return RequestRejected(frame.code, frame.message, frame.hint)
