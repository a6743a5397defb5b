"""The one way the tests start a bridge: in the test's event loop, in a thread, or as a process.

========================  ============================================================
``bridge()``              a started ``BridgeServer`` in the running loop (async tests)
``RestartableBridge``     the same, stopped and started again: same port, same mail
``ThreadedBridge``        a bridge in a thread with its own loop (synchronous tests)
``BridgeProcess``         ``python -m ai_connect bridge``, port from its ready file (e2e;
                          in process.py, beside the line reader it uses)
``FakeBridge``            no bridge: a WebSocket server that answers ``hello`` as told
========================  ============================================================

Each binds 127.0.0.1 port 0 and reads back the port it got. With ``listen=False`` a
bridge binds nothing: a client reaches it through ``socketpair_connect(server)``, a
drop-in for websockets' ``connect(uri, **options)`` that hands one end of a
``socket.socketpair()`` to ``BridgeServer.accept`` and connects over the other, so the
real protocol code runs on both sides without a port (``NO_PORT_URL`` names it).
``RestartableBridge.connect``, ``ThreadedBridge.connect`` (from any thread) and
``FakeBridge.connect`` do the same for theirs: pass one as BridgeClient's transport.

The pure router tests need none of this: tests/bridge/helpers.py's ``Bridge`` plays the
server's part by hand, with no loop and no socket. Nothing here sleeps: every wait is on
a future, an event or a pipe, bounded.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterable
from pathlib import Path
from typing import Any, TypeVar

from websockets.asyncio.client import connect
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.server import ServerProtocol

from ai_connect.bridge.server import BridgeServer, ServerSettings
from ai_connect.bridge.store.base import Store, TokenRecord
from ai_connect.bridge.store.memory import MemoryStore
from ai_connect.bridge.store.sqlite import SqliteStore
from ai_connect.protocol import Error, ErrorCode, Hello, Welcome, decode_client, encode

__all__ = [
    "HOST",
    "NO_PORT_URL",
    "Connect",
    "FakeBridge",
    "RestartableBridge",
    "SharedStore",
    "ThreadedBridge",
    "bridge",
    "connect_into",
    "serve_nowhere",
    "socketpair_connect",
    "start_bridge",
    "welcome_for",
]

HOST = "127.0.0.1"
NO_PORT_URL = "ws://in-process.invalid"
"""The URL of a bridge without a port: the socketpair connect never resolves it."""

Connect = Callable[..., connect]
"""What websockets' ``connect`` is: ``connect(uri, **options)``, awaited or ``async with``."""

T = TypeVar("T")


class SharedStore(MemoryStore):
    """A MemoryStore that outlives the bridge using it, so a restart keeps the mail.

    ``MemoryStore.close()`` refuses any later use (as a closed database would), and
    ``BridgeServer.close()`` closes its store; this one ignores that close.
    """

    def close(self) -> None:
        pass


# --- in the test's event loop ----------------------------------------------------------


async def start_bridge(
    store: Store | None = None, *, tokens: Iterable[TokenRecord] = (), **settings: Any
) -> BridgeServer:
    """A started bridge on 127.0.0.1 port 0 (``settings``: any ``ServerSettings`` field).

    ``store`` defaults to a fresh MemoryStore; ``tokens`` are put into it first.
    """
    store = MemoryStore() if store is None else store
    for token in tokens:
        store.put_token(token)
    settings.setdefault("host", HOST)
    settings.setdefault("port", 0)
    server = BridgeServer(store, ServerSettings(**settings))
    await server.start()
    return server


@contextlib.asynccontextmanager
async def bridge(
    store: Store | None = None, *, tokens: Iterable[TokenRecord] = (), **settings: Any
) -> AsyncIterator[BridgeServer]:
    """``async with bridge() as server:`` a started bridge (see :func:`start_bridge`)."""
    server = await start_bridge(store, tokens=tokens, **settings)
    try:
        yield server
    finally:
        await server.close()


def socketpair_connect(server: BridgeServer) -> Connect:
    """websockets' ``connect``, reaching ``server`` over a socketpair instead of a port."""

    def connect_by_socketpair(uri: str, **options: Any) -> connect:
        ours, theirs = socket.socketpair()
        try:
            server.accept(theirs)
        except RuntimeError as exc:  # closing: as a closed port would, refuse
            ours.close()
            theirs.close()
            raise ConnectionRefusedError(f"the bridge is not serving: {exc}") from exc
        return connect(uri, sock=ours, **options)

    return connect_by_socketpair


def serve_nowhere(handler: Callable[[ServerConnection], Awaitable[None]]) -> Server:
    """websockets' ``serve(handler)`` on no socket (asyncio binds each of no hosts):
    ``async with serve_nowhere(h) as server``, then reach it through ``connect_into``."""
    no_hosts: Any = []
    return serve(handler, no_hosts, 0)


def connect_into(server: Server) -> Connect:
    """websockets' ``connect``, reaching a plain websockets ``Server`` over a socketpair
    (``BridgeServer.accept`` does the same for the bridge)."""
    accepting: set[asyncio.Task[Any]] = set()

    def connect_by_socketpair(uri: str, **options: Any) -> connect:
        ours, theirs = socket.socketpair()
        ws = ServerConnection(ServerProtocol(), server)
        serving = asyncio.get_running_loop().connect_accepted_socket(lambda: ws, theirs)
        task = asyncio.ensure_future(serving)
        accepting.add(task)
        task.add_done_callback(accepting.discard)
        return connect(uri, sock=ours, **options)

    return connect_by_socketpair


class RestartableBridge:
    """A bridge that stops and starts again on the same port, and keeps its mail.

    With ``db`` the SQLite file is reopened at each start, as a real restart does;
    otherwise ``store`` (default: a SharedStore) is used again.
    """

    def __init__(
        self, store: Store | None = None, *, db: Path | None = None, **settings: Any
    ) -> None:
        self.db = db
        self.store = store if store is not None or db is not None else SharedStore()
        self.port: int = settings.pop("port", 0)
        self.settings = settings
        self.server: BridgeServer | None = None

    @property
    def url(self) -> str:
        return f"ws://{HOST}:{self.port}" if self.settings.get("listen", True) else NO_PORT_URL

    async def start(self) -> None:
        store = SqliteStore(self.db) if self.db is not None else self.store
        self.server = await start_bridge(store, port=self.port, **self.settings)
        if self.server.settings.listen:
            self.port = self.server.port

    async def stop(self) -> None:
        """Closes the bridge: every link gets a close frame (1001)."""
        assert self.server is not None, "the bridge is not running"
        server, self.server = self.server, None
        await server.close()

    async def restart(self) -> None:
        await self.stop()
        await self.start()

    def connect(self, uri: str, **options: Any) -> connect:
        """websockets' ``connect`` over a socketpair into the running bridge; refused
        while it is stopped, as its port would be."""
        if self.server is None:
            raise ConnectionRefusedError("the bridge is stopped")
        return socketpair_connect(self.server)(uri, **options)

    async def __aenter__(self) -> RestartableBridge:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self.server is not None:
            await self.stop()


# --- in a thread ------------------------------------------------------------------------


class ThreadedBridge:
    """A bridge in a background thread with its own event loop, for synchronous tests
    (the CLI's ``main``, websockets' sync client). ``with ThreadedBridge() as b: b.url``.

    Takes :func:`start_bridge`'s arguments. ``stop()`` may be called from any thread,
    more than once.
    """

    def __init__(self, store: Store | None = None, **settings: Any) -> None:
        self._store, self._settings = store, settings
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="test-bridge")
        self._lock = threading.Lock()
        self._stopped = False
        self.server: BridgeServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None, "start() the bridge first"
        return self.server.url if self.server.settings.listen else NO_PORT_URL

    def connect(self, uri: str, **options: Any) -> connect:
        """websockets' ``connect`` over a socketpair into this bridge, from any thread's
        loop: the bridge's end is handed to ``accept`` in the bridge's own loop."""
        assert self.server is not None, "start() the bridge first"
        ours, theirs = socket.socketpair()
        self._loop.call_soon_threadsafe(self.server.accept, theirs)
        return connect(uri, sock=ours, **options)

    def call(self, coro: Coroutine[Any, Any, T], timeout: float = 10.0) -> T:
        """Runs ``coro`` in the bridge's loop and returns its result."""
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    def start(self) -> str:
        self._thread.start()
        self.server = self.call(start_bridge(self._store, **self._settings))
        return self.url

    def stop(self) -> None:
        """Closes the bridge cleanly and ends its thread (idempotent)."""
        with self._lock:
            if self._stopped:
                return
            self._stopped = True
            try:
                if self.server is not None:
                    self.call(self.server.close())
            finally:
                self._loop.call_soon_threadsafe(self._loop.stop)
                self._thread.join(10)
                assert not self._thread.is_alive(), "the bridge thread did not end within 10 s"
                self._loop.close()

    def __enter__(self) -> ThreadedBridge:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


# --- a fake bridge ---------------------------------------------------------------------


class FakeBridge:
    """A WebSocket server that answers ``hello`` as told, then swallows every frame.

    ``on_hello`` is ``"welcome"``, ``"refuse"`` (an ``auth_failed`` error), ``"ignore"``
    or ``"drop"`` (the TCP connection is aborted). Every frame after the hello is put on
    ``frames``, so a test can wait until a request has reached the "bridge".
    ``listen=False``: no port; clients come in through :meth:`connect`.
    """

    def __init__(self, on_hello: str = "welcome", *, listen: bool = True) -> None:
        self.on_hello = on_hello
        self.listen = listen
        self.hellos = 0
        self.frames: asyncio.Queue[str | bytes] = asyncio.Queue()
        self._server: Server | None = None

    @property
    def url(self) -> str:
        if not self.listen:
            return NO_PORT_URL
        assert self._server is not None
        return f"ws://{HOST}:{self._server.sockets[0].getsockname()[1]}"

    async def __aenter__(self) -> FakeBridge:
        listening = serve(self._handle, HOST, 0) if self.listen else serve_nowhere(self._handle)
        self._server = await listening
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    async def stop(self) -> None:
        """Closes every connection (code 1001) and stops listening."""
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    def connect(self, uri: str, **options: Any) -> connect:
        """websockets' ``connect`` over a socketpair into this server: no port."""
        assert self._server is not None
        return connect_into(self._server)(uri, **options)

    async def _handle(self, ws: ServerConnection) -> None:
        hello = decode_client(await ws.recv())
        assert isinstance(hello, Hello)
        self.hellos += 1
        if self.on_hello == "welcome":
            await ws.send(encode(welcome_for(hello)))
        elif self.on_hello == "drop":
            assert ws.transport is not None
            ws.transport.abort()
            return
        elif self.on_hello == "refuse":
            refusal = Error(
                rid=hello.rid,
                code=ErrorCode.AUTH_FAILED,
                message="token refused.",
                hint="Pass the token the bridge operator gave you (--token).",
            )
            await ws.send(encode(refusal))
        async for frame in ws:
            self.frames.put_nowait(frame)


def welcome_for(hello: Hello) -> Welcome:
    """The welcome a bridge gives ``hello`` when the name is free."""
    return Welcome(
        rid=hello.rid,
        address=f"{hello.name} ({hello.project})",
        name=hello.name,
        project=hello.project,
        server="fake",
        unread=0,
        tip=0,
        acked=0,
    )
