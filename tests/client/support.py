"""Helpers for the client tests: a real bridge in the test's event loop, fake bridges,
and a TCP relay that can freeze or cut a link.

Nothing here sleeps: every wait is on an event or a future, bounded by a timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import socket
from collections.abc import AsyncIterator, Coroutine, Iterator
from typing import Any

from websockets.asyncio.server import Server, ServerConnection, serve

from ai_connect.bridge.server import BridgeServer, ServerSettings
from ai_connect.bridge.store.base import Store
from ai_connect.bridge.store.memory import MemoryStore
from ai_connect.client import BridgeClient
from ai_connect.client.mailbox import Inbox, Message
from ai_connect.protocol import Error, Hello, Welcome, decode_client, encode

PROJECT = "proj"


def run(scenario: Coroutine[Any, Any, None], timeout: float = 20.0) -> None:
    """Runs one async scenario in a fresh event loop, bounded by ``timeout``."""
    asyncio.run(asyncio.wait_for(scenario, timeout))


def fast_delays() -> Iterator[float]:
    """Reconnect delays for tests: 10 ms, always."""
    return itertools.repeat(0.01)


def make_client(url: str, name: str, project: str = PROJECT, **options: Any) -> BridgeClient:
    """A client with short timeouts and 10 ms reconnect delays."""
    options.setdefault("reconnect_delays", fast_delays)
    options.setdefault("request_timeout", 5.0)
    options.setdefault("connect_timeout", 3.0)
    return BridgeClient(url, name, project, **options)


class SharedStore(MemoryStore):
    """A MemoryStore that outlives the bridge using it, so a restart keeps the mail.

    ``MemoryStore.close()`` refuses any later use (as a closed database would), and
    ``BridgeServer.close()`` closes its store; this one ignores that close.
    """

    def close(self) -> None:
        pass


async def start_bridge(store: Store | None = None, port: int = 0) -> BridgeServer:
    """A started bridge on 127.0.0.1 (``port=0``: any free port; read ``server.port``)."""
    server = BridgeServer(store or MemoryStore(), ServerSettings(port=port))
    await server.start()
    return server


@contextlib.asynccontextmanager
async def bridge(store: Store | None = None) -> AsyncIterator[BridgeServer]:
    server = await start_bridge(store)
    try:
        yield server
    finally:
        await server.close()


class RestartableBridge:
    """A bridge on a port that stays the same across restarts, with a store that survives."""

    def __init__(self) -> None:
        self.store = SharedStore()
        self.port = 0
        self.server: BridgeServer | None = None

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    async def start(self) -> None:
        self.server = await start_bridge(self.store, self.port)
        self.port = self.server.port

    async def stop(self) -> None:
        """Closes the bridge: every link gets a close frame (1001)."""
        assert self.server is not None
        server, self.server = self.server, None
        await server.close()

    async def restart(self) -> None:
        await self.stop()
        await self.start()

    async def __aenter__(self) -> RestartableBridge:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self.server is not None:
            await self.stop()


def listen(client: BridgeClient) -> asyncio.Queue[Message]:
    """A queue that receives every new message the client hands to its listeners."""
    queue: asyncio.Queue[Message] = asyncio.Queue()

    def on_item(item: object) -> None:
        if isinstance(item, Message):
            queue.put_nowait(item)

    client.add_listener(on_item)
    return queue


async def take(
    queue: asyncio.Queue[Message], count: int = 1, timeout: float = 5.0
) -> list[Message]:
    """The next ``count`` messages from ``queue``, waiting at most ``timeout`` for each."""
    return [await asyncio.wait_for(queue.get(), timeout) for _ in range(count)]


class CountingInbox(Inbox):
    """An inbox that records every delivery offered to it, duplicates included."""

    def __init__(self) -> None:
        super().__init__()
        self.offered: list[int] = []

    def add(self, message: Message) -> bool:
        self.offered.append(message.seq)
        return super().add(message)


# --- a fake bridge ---------------------------------------------------------------------


class FakeBridge:
    """A WebSocket server that answers ``hello`` as told, then swallows every frame.

    ``on_hello`` is ``"welcome"``, ``"refuse"`` (an ``auth_failed`` error), ``"ignore"``
    or ``"drop"`` (the TCP connection is aborted).
    Every frame after the hello is put on ``frames``, so a test can wait until a
    request has reached the "bridge".
    """

    def __init__(self, on_hello: str = "welcome") -> None:
        self.on_hello = on_hello
        self.hellos = 0
        self.frames: asyncio.Queue[str | bytes] = asyncio.Queue()
        self._server: Server | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"ws://127.0.0.1:{next(iter(self._server.sockets)).getsockname()[1]}"

    async def __aenter__(self) -> FakeBridge:
        self._server = await serve(self._handle, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    async def stop(self) -> None:
        """Closes every connection (code 1001) and stops listening."""
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

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
                code="auth_failed",
                message="token refused.",
                hint="Pass the token the bridge operator gave you (--token).",
            )
            await ws.send(encode(refusal))
        async for frame in ws:
            self.frames.put_nowait(frame)


def welcome_for(hello: Hello) -> Welcome:
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


@contextlib.contextmanager
def refused_url() -> Iterator[str]:
    """The URL of a port that is bound but not listening: connections are refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield f"ws://127.0.0.1:{sock.getsockname()[1]}"


# --- a relay that can freeze or cut links ---------------------------------------------


class Relay:
    """A TCP relay from 127.0.0.1:``port`` to a bridge.

    ``freeze()`` stops relaying in one or both directions while keeping the sockets
    open (a peer that stopped answering, or a dead route); ``cut()`` aborts every link
    at once (a dropped connection, no close handshake).
    """

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.up_frozen = False
        self.down_frozen = False
        self._server: asyncio.Server | None = None
        self._writers: list[asyncio.StreamWriter] = []
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"ws://127.0.0.1:{self._server.sockets[0].getsockname()[1]}"

    async def __aenter__(self) -> Relay:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        assert self._server is not None
        self._server.close()
        self.cut()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._server.wait_closed()

    def freeze(self, *, up: bool = True, down: bool = True) -> None:
        """Drops what the client sends (``up``) and/or what the bridge sends (``down``)."""
        self.up_frozen, self.down_frozen = up, down

    def cut(self) -> None:
        """Aborts every current link; new links are relayed again."""
        for writer in self._writers:
            writer.transport.abort()
        self._writers.clear()
        self.up_frozen = self.down_frozen = False

    def _accept(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        task = asyncio.create_task(self._link(client_r, client_w))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _link(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        self._writers.append(client_w)
        try:
            bridge_r, bridge_w = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            client_w.transport.abort()
            return
        self._writers.append(bridge_w)
        await asyncio.gather(
            self._pump(client_r, bridge_w, up=True),
            self._pump(bridge_r, client_w, up=False),
        )

    async def _pump(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, up: bool
    ) -> None:
        with contextlib.suppress(OSError):
            while data := await reader.read(65536):
                if not (self.up_frozen if up else self.down_frozen):
                    writer.write(data)
            # The end of one direction ends the link, unless that direction is frozen:
            # then the other side must not hear of it either.
            if not (self.up_frozen if up else self.down_frozen):
                writer.transport.abort()


def tcp_ends(port: int) -> list[tuple[str, bool]]:
    """Every connected TCP socket of this process on ``port``: ("server" for the end that
    listens on ``port``, else "client"), and whether it has TCP_NODELAY (Nagle off).

    Read from the sockets themselves (each open descriptor, duplicated), whatever library
    made them.
    """
    ends = []
    for name in os.listdir("/dev/fd"):
        try:
            fd = os.dup(int(name))
        except OSError:  # the listing's own descriptor, closed since
            continue
        try:
            sock = socket.socket(fileno=fd)
        except OSError:  # not a socket
            os.close(fd)
            continue
        with sock:
            if sock.family not in (socket.AF_INET, socket.AF_INET6):
                continue
            if sock.type != socket.SOCK_STREAM:
                continue
            try:
                local, remote = sock.getsockname()[1], sock.getpeername()[1]
            except OSError:  # a listener: not connected
                continue
            if port in (local, remote):
                nodelay = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
                ends.append(("server" if local == port else "client", nodelay))
    return sorted(ends)
