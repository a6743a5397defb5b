"""Helpers for the client tests: clients with short timeouts, listeners, and a relay
that can freeze or cut a link. Bridges (real and fake) come from tests/support/bridge.py.

The client tests run the real client and the real bridge over ``socket.socketpair()``:
a bridge started with ``listen=False`` binds no port, and :func:`make_client` gives the
client the matching transport (BridgeClient's ``connect=`` seam). Only the tests of the
default transport itself (a refused port) open a TCP socket.

Nothing here sleeps: every wait is on an event or a future, bounded by a timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import socket
import sys
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlsplit

from websockets.asyncio.client import connect as websockets_connect

from ai_connect.bridge.server import BridgeServer
from ai_connect.client import BridgeClient
from ai_connect.client.mailbox import Inbox, Message
from tests.support import inprocess
from tests.support.bridge import NO_PORT_URL, RestartableBridge, bridge, socketpair_connect

PROJECT = "proj"


def run(scenario: Coroutine[Any, Any, None], timeout: float = 20.0) -> None:
    """Runs one async scenario in a fresh event loop, bounded by ``timeout``; when the
    bound is hit, the stack of every task still running is printed (stderr) before the
    scenario is cancelled, so a hang names the await it hangs on."""
    asyncio.run(_bounded(scenario, timeout))


async def _bounded(scenario: Coroutine[Any, Any, None], timeout: float) -> None:
    task = asyncio.ensure_future(scenario)
    done, _ = await asyncio.wait({task}, timeout=timeout)
    if not done:
        current = asyncio.current_task()
        for other in asyncio.all_tasks():
            if other is not current:
                print(f"--- task {other.get_name()} still running:", file=sys.stderr)
                other.print_stack(limit=30, file=sys.stderr)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        raise TimeoutError(f"the scenario did not end within {timeout} s (stacks above)")
    task.result()


def fast_delays() -> Iterator[float]:
    """Reconnect delays for tests: 10 ms, always."""
    return itertools.repeat(0.01)


class Reachable(Protocol):
    """A bridge (or relay) a client reaches through ``connect`` instead of a port."""

    @property
    def url(self) -> str: ...

    def connect(self, uri: str, **options: Any) -> websockets_connect: ...


def make_client(
    target: str | BridgeServer | Reachable, name: str, project: str = PROJECT, **options: Any
) -> BridgeClient:
    """A client with short timeouts and 10 ms reconnect delays, of ``target``: a bridge
    started with ``listen=False`` (reached over a socketpair), a FakeBridge, Relay or
    RestartableBridge (through its ``connect``), or a URL: an in-process one
    (tests/support/inprocess.py) or a real port."""
    options.setdefault("reconnect_delays", fast_delays)
    options.setdefault("request_timeout", 5.0)
    options.setdefault("connect_timeout", 3.0)
    if isinstance(target, BridgeServer):
        target = Reached(target)
    if not isinstance(target, str):
        options.setdefault("connect", target.connect)
        target = target.url
    elif urlsplit(target).hostname == inprocess.HOST:
        options.setdefault("connect", inprocess.connect)
    return BridgeClient(target, name, project, **options)


@dataclass(frozen=True)
class Reached:
    """A started ``listen=False`` BridgeServer as a :class:`Reachable`."""

    server: BridgeServer
    url: str = NO_PORT_URL

    def connect(self, uri: str, **options: Any) -> websockets_connect:
        return socketpair_connect(self.server)(uri, **options)


@contextlib.asynccontextmanager
async def alice_and_bob() -> AsyncIterator[tuple[BridgeClient, BridgeClient]]:
    """Alice and Bob connected to one bridge of their own that binds no port."""
    async with (
        bridge(listen=False) as srv,
        make_client(srv, "Alice") as alice,
        make_client(srv, "Bob") as bob,
    ):
        yield alice, bob


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


@contextlib.contextmanager
def refused_url() -> Iterator[str]:
    """The URL of a port that is bound but not listening: connections are refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield f"ws://127.0.0.1:{sock.getsockname()[1]}"


# --- a relay that can freeze or cut links ---------------------------------------------


class Relay:
    """A relay between clients and a bridge, over socketpairs (no port).

    Clients connect through :meth:`connect` (give ``make_client`` the relay); for each,
    the relay opens a second socketpair into the bridge with ``accept`` (a
    ``BridgeServer.accept``, or :func:`accepting` for a bridge that restarts) and copies
    the bytes across. ``freeze()`` stops relaying in one or both directions while keeping
    the sockets open (a peer that stopped answering, or a dead route); ``cut()`` aborts
    every link at once (a dropped connection, no close handshake).
    """

    url = NO_PORT_URL

    def __init__(self, accept: Callable[[socket.socket], None]) -> None:
        self.accept = accept
        self.up_frozen = False
        self.down_frozen = False
        self._writers: list[asyncio.StreamWriter] = []
        self._tasks: set[asyncio.Task[None]] = set()

    async def __aenter__(self) -> Relay:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self.cut()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def connect(self, uri: str, **options: Any) -> websockets_connect:
        """websockets' ``connect`` into the relay: the transport seam of BridgeClient."""
        client_end, relay_end = socket.socketpair()
        task = asyncio.create_task(self._link(relay_end))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return websockets_connect(uri, sock=client_end, **options)

    def freeze(self, *, up: bool = True, down: bool = True) -> None:
        """Drops what the client sends (``up``) and/or what the bridge sends (``down``)."""
        self.up_frozen, self.down_frozen = up, down

    def cut(self) -> None:
        """Aborts every current link; new links are relayed again."""
        for writer in self._writers:
            writer.transport.abort()
        self._writers.clear()
        self.up_frozen = self.down_frozen = False

    async def _link(self, relay_end: socket.socket) -> None:
        client_r, client_w = await asyncio.open_connection(sock=relay_end)
        self._writers.append(client_w)
        ours, theirs = socket.socketpair()
        try:
            self.accept(theirs)
        except OSError:  # the bridge is down: as a refused connection, drop the client
            ours.close()
            theirs.close()
            client_w.transport.abort()
            return
        bridge_r, bridge_w = await asyncio.open_connection(sock=ours)
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


def accepting(live: RestartableBridge) -> Callable[[socket.socket], None]:
    """``accept`` of whichever bridge ``live`` runs now; refused while it is stopped."""

    def accept(sock: socket.socket) -> None:
        if live.server is None:
            raise ConnectionRefusedError("the bridge is stopped")
        live.server.accept(sock)

    return accept


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
