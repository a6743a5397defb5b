"""Helpers for the client tests: clients with short timeouts, listeners, and a TCP relay
that can freeze or cut a link. Bridges (real and fake) come from tests/support/bridge.py.

Nothing here sleeps: every wait is on an event or a future, bounded by a timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import socket
from collections.abc import Coroutine, Iterator
from typing import Any

from ai_connect.client import BridgeClient
from ai_connect.client.mailbox import Inbox, Message

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
