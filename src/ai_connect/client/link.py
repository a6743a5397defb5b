"""One client's link to the bridge: connect, hello, read, heartbeat, reconnect, TLS pin.

A :class:`Link` owns the WebSocket and its state (:class:`LinkState`). It knows nothing
of messages: it asks its owner for the ``hello`` to send, hands the ``welcome`` back
before the link counts as connected (so the owner can resend its outbox first, §7), and
passes every other frame it reads to ``on_frame``. Requests in flight live in the
:class:`~ai_connect.client.pending.Pending` it is given: the link fails them all when it
goes down.

The transport is a seam: ``connect`` (websockets' ``connect`` by default) is called with
the URL and websockets' keyword arguments and returns an open ``ClientConnection``. Tests
pass one that links client and bridge over ``socket.socketpair()``, without a port.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import ssl as ssl_module
from collections.abc import Awaitable, Callable, Iterator
from enum import StrEnum

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidMessage, InvalidURI

from ai_connect import __version__, tls
from ai_connect.client.pending import Pending
from ai_connect.errors import (
    BridgeError,
    FrameError,
    LocalProtocolError,
    NotConnected,
    RequestRejected,
    RequestTimeout,
    TlsError,
)
from ai_connect.protocol import (
    CLOSE_AUTH,
    CLOSE_FORGOTTEN_BY_OPERATOR,
    CLOSE_SESSION_MOVED,
    Hello,
    Ping,
    ServerFrame,
    Welcome,
    decode_server,
    encode,
)
from ai_connect.protocol.frame import Frame
from ai_connect.redaction import Redacting
from ai_connect.waiting import bounded, wait_event

__all__ = ["Connect", "Link", "LinkState", "backoff"]

log = logging.getLogger("ai_connect.client")
_WS_LOG = Redacting(logging.getLogger("websockets.client"))
"""websockets' own DEBUG lines show frames: the hello's token must not be among them."""

Connect = Callable[..., Awaitable[ClientConnection]]
"""Opens a WebSocket: ``connect(url, **websockets_options)`` -> an open connection."""


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


class Link:
    """A WebSocket to the bridge that registers, stays alive and comes back after outages."""

    def __init__(
        self,
        url: str,
        pending: Pending,
        *,
        hello: Callable[[], Hello],
        on_welcome: Callable[[Welcome], Awaitable[None]],
        on_frame: Callable[[ServerFrame], None],
        connect: Connect = connect,
        ssl: ssl_module.SSLContext | None = None,
        pin: str | None = None,
        connect_timeout: float = 5.0,
        heartbeat_s: float = 20.0,
        keepalive_s: float = 5.0,
        reconnect: bool = True,
        reconnect_delays: Callable[[], Iterator[float]] = backoff,
        clock: Callable[[], float],
    ) -> None:
        self.urls = [u.strip() for u in url.split(",") if u.strip()] or [url]
        """Every node's URL (a comma list: docs/deploy.md); ``url`` is the one in use, and
        a link that fails or drops moves on to the next at once, waiting only after it
        tried them all."""
        self.url = self.urls[0]
        self._tried = 0
        self.connect_timeout = connect_timeout
        self._pending = pending
        self._hello, self._on_welcome, self._on_frame = hello, on_welcome, on_frame
        self._connect, self._ssl, self._pin = connect, ssl, pin
        """``_pin``: SHA-256 of the bridge's certificate, checked before hello (tls)."""
        self._heartbeat_s, self._keepalive_s = heartbeat_s, keepalive_s
        self._reconnect, self._delays, self._clock = reconnect, reconnect_delays, clock
        self.state = LinkState.CLOSED
        self.state_since = clock()
        self.last_error: str | None = None
        self._other_scheme: str | None = None
        """``ws://`` or ``wss://`` when the last attempt met a server of the other scheme."""
        self.close_code: int | None = None
        """The close code of the last link that closed (``CLOSE_AUTH``: the token ended)."""
        self._ws: ClientConnection | None = None
        self._connected = asyncio.Event()
        self._disconnected = asyncio.Event()
        self._disconnected.set()
        self._closed = asyncio.Event()
        self._runner: asyncio.Task[None] | None = None
        self._reader: asyncio.Task[None] | None = None
        self._state_waiters: list[tuple[LinkState, asyncio.Future[None]]] = []

    # --- lifecycle --------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        return self.state is LinkState.CONNECTED

    async def open(self, *, wait: bool = True) -> None:
        """Opens the link. ``wait=False`` returns at once and keeps trying in the background."""
        self._closed.clear()
        self._set_state(LinkState.CONNECTING)
        if wait:
            ws = None
            while ws is None:
                try:
                    ws = await self._open()
                except (RequestRejected, LocalProtocolError, TlsError):
                    self._set_state(LinkState.CLOSED)
                    raise
                except BridgeError:
                    if not self._next_url():  # each node refused: say why (the last)
                        self._set_state(LinkState.CLOSED)
                        raise
            self._runner = asyncio.create_task(self._run(ws))
        else:
            self._runner = asyncio.create_task(self._run(None))

    async def close(self) -> None:
        """Closes the link for good (until :meth:`open`); fails the requests in flight."""
        self._closed.set()
        if self._ws is not None:
            await self._ws.close()
        if self._runner is not None:
            self._runner.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._runner
        self._pending.fail(NotConnected("the client was closed"))
        self._set_state(LinkState.CLOSED)

    async def wait_connected(self, timeout: float) -> None:
        if not await wait_event(self._connected, timeout):
            raise self.not_connected()

    async def wait_disconnected(self) -> None:
        await self._disconnected.wait()

    async def wait_state(self, state: LinkState, timeout: float) -> None:
        if self.state is state:
            return
        waiter = asyncio.get_running_loop().create_future()
        entry = (state, waiter)
        self._state_waiters.append(entry)
        try:
            await bounded(waiter, timeout)
        except TimeoutError as exc:
            raise RequestTimeout(
                f"the link did not become {state} within {timeout:g} s; it is {self.state}"
            ) from exc
        finally:
            self._state_waiters.remove(entry)

    async def transmit(self, frame: Frame) -> None:
        """Writes one frame; NotConnected if there is no link (or it just closed)."""
        ws = self._ws
        if ws is None:
            raise self.not_connected()
        try:
            await ws.send(encode(frame))
        except ConnectionClosed as exc:
            raise NotConnected(f"the link to {self.url} closed: {exc}") from exc

    def not_connected(self) -> NotConnected:
        """The error for a request made with no link: where, why, and what to do."""
        why = f" ({self.last_error})" if self.last_error else ""
        if self._other_scheme is not None:  # something answered, on the other scheme
            return NotConnected(
                f"not connected to the bridge at {self.url}{why}; something answers there, "
                f"but not as {self.url.split('://')[0]}://: if the bridge serves "
                f"{self._other_scheme}, use its {self._other_scheme} URL (--bridge or "
                "AI_CONNECT_BRIDGE)"
            )
        if self.close_code == CLOSE_AUTH:  # it runs: it no longer takes our token
            return NotConnected(
                f"not connected to the bridge at {self.url}{why}; it no longer accepts "
                "this connection's token: pass a valid one (--token, AI_CONNECT_TOKEN or "
                "bridge.token), which the bridge's operator gives out"
            )
        return NotConnected(
            f"not connected to the bridge at {self.url}{why}; start it with "
            f"'ai-connect bridge' or point --bridge / AI_CONNECT_BRIDGE at it"
        )

    # --- internals --------------------------------------------------------------------

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
        hello = self._hello()  # an invalid name fails here, before anything connects
        try:
            ws = await bounded(  # (asyncio.wait_for can lose a cancel: waiting.py)
                self._connect(
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
            self._other_scheme = None
            if isinstance(exc, InvalidMessage) and self.url.lower().startswith("ws://"):
                self._other_scheme = "wss://"
            elif isinstance(exc, ConnectionResetError) and self.url.lower().startswith("wss://"):
                self._other_scheme = "ws://"  # a plain bridge drops a TLS hello
            raise self.not_connected() from exc
        if self._pin is not None:
            await self._check_pin(ws)
        self._ws = ws
        reader = asyncio.create_task(self._read(ws))
        try:
            welcome = await self._pending.call(
                hello, Welcome, self.connect_timeout, lambda: self.transmit(hello)
            )
        except BridgeError:
            reader.cancel()
            await ws.close()
            self._ws = None
            raise
        self.last_error = None
        self.close_code = None
        self._tried = 0
        self.urls = [self.url, *(u for u in self.urls if u != self.url)]  # this one first
        self._reader = reader
        await self._on_welcome(welcome)  # e.g. the outbox, before anyone may send anew (§7)
        self._set_state(LinkState.CONNECTED)
        log.info("connected to %s as %s (%d unread)", self.url, welcome.address, welcome.unread)
        return ws

    def _next_url(self) -> bool:
        """Moves to the next URL; ``False`` once every URL was tried since the last
        connection (then the caller waits its reconnect delay first)."""
        self._tried += 1
        self.url = self.urls[self._tried % len(self.urls)]
        return self._tried % len(self.urls) != 0

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
                    self.close_code = ws.close_code
                    if self._reader is not None:
                        self._reader.cancel()
                    log.info("disconnected from %s: %s", self.url, self.last_error)
                    # Forgotten: coming back would register the address anew. Moved: this
                    # session registered on another node; coming back would take the
                    # address back from it, and it back again (protocol.limits).
                    final = ws.close_code in (CLOSE_FORGOTTEN_BY_OPERATOR, CLOSE_SESSION_MOVED)
                    ws, self._ws = None, None
                    if final:
                        log.error("giving up on %s: %s", self.url, self.last_error)
                        self._pending.fail(self.not_connected())
                        self._set_state(LinkState.CLOSED)
                        return
                self._pending.fail(self.not_connected())
                if self._closed.is_set() or not self._reconnect:
                    break
                self._set_state(LinkState.RECONNECTING)
                if self._next_url():
                    continue  # another node: at once
                delays = delays or self._delays()
                await wait_event(self._closed, next(delays))
        finally:
            heartbeat.cancel()
            if not self._reconnect or self._closed.is_set():
                self._set_state(LinkState.CLOSED)

    async def _heartbeat(self) -> None:
        while True:
            await asyncio.sleep(self._heartbeat_s)
            if self.connected:
                with contextlib.suppress(NotConnected):
                    await self.transmit(Ping())

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
            self._pending.fail(
                NotConnected(
                    f"the link to {self.url} closed (code {ws.close_code}) before the bridge "
                    "answered; try again once the client has reconnected"
                )
            )
