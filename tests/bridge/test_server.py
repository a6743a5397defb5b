"""bridge/server.py without a port: ``listen=False`` binds nothing and ``accept`` serves a
socket handed in, through the same handshake, HTTP answers and router as the port."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import socket
from collections.abc import AsyncIterator
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection

from ai_connect.bridge.server import BridgeServer
from ai_connect.protocol import PROTOCOL_VERSION, Hello
from tests.client.support import run
from tests.support.bridge import (
    NO_PORT_URL,
    RestartableBridge,
    ThreadedBridge,
    bridge,
    socketpair_connect,
)


def test_a_bridge_without_a_port_serves_a_handed_in_socket() -> None:
    """listen=False: no port to read, yet a client over a socketpair gets its welcome."""

    async def scenario() -> None:
        async with bridge(listen=False) as server:
            with pytest.raises(RuntimeError, match="no port"):
                _ = server.port
            async with socketpair_connect(server)(NO_PORT_URL) as ws:
                hello = {"type": "hello", "rid": "h", "protocol": PROTOCOL_VERSION}
                await ws.send(json.dumps({**hello, "name": "alice", "project": "p"}))
                welcome = json.loads(await asyncio.wait_for(ws.recv(), 5))
            assert (welcome["type"], welcome["address"]) == ("welcome", "alice (p)")

    run(scenario())


def test_a_handed_in_socket_gets_the_http_answers_of_the_port() -> None:
    """GET /healthz on a socket handed to accept() is answered 200 ok, as on the port."""

    async def scenario() -> None:
        async with bridge(listen=False) as server:
            ours, theirs = socket.socketpair()
            server.accept(theirs)
            reader, writer = await asyncio.open_connection(sock=ours)
            writer.write(b"GET /healthz HTTP/1.1\r\nHost: bridge\r\n\r\n")
            answer = await asyncio.wait_for(reader.read(), 5)
            writer.close()
            assert answer.startswith(b"HTTP/1.1 200 OK") and answer.endswith(b"\r\n\r\nok\n")

    run(scenario())


def test_a_closed_bridge_refuses_handed_in_sockets() -> None:
    """After close() accept() refuses, so a socketpair connect fails as a closed port does."""

    async def scenario() -> None:
        async with bridge(listen=False) as server:
            connect = socketpair_connect(server)
        with pytest.raises(ConnectionRefusedError, match="not serving"):
            connect(NO_PORT_URL)

    run(scenario())


def test_a_restartable_bridge_without_a_port_refuses_while_stopped_and_keeps_its_mail() -> None:
    """Its socketpair connect is refused while it is down; after a restart the store is kept."""

    async def hello(live: RestartableBridge, name: str) -> dict[str, Any]:
        async with live.connect(live.url) as ws:
            frame = {"type": "hello", "rid": "h", "protocol": PROTOCOL_VERSION}
            await ws.send(json.dumps({**frame, "name": name, "project": "p"}))
            answer: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), 5))
            return answer

    async def scenario() -> None:
        async with RestartableBridge(listen=False) as live:
            assert live.url == NO_PORT_URL
            assert (await hello(live, "alice"))["address"] == "alice (p)"
            await live.stop()
            with pytest.raises(ConnectionRefusedError):
                live.connect(live.url)
            await live.start()
            assert live.store is not None
            assert [peer.address for peer in live.store.peers()] == ["alice (p)"]
            assert (await hello(live, "alice"))["address"] == "alice (p)"

    run(scenario())


def test_a_threaded_bridge_without_a_port_serves_a_client_of_another_loop() -> None:
    """ThreadedBridge.connect hands its end to the bridge's loop; the caller's loop talks."""

    async def hello(bridge: ThreadedBridge) -> dict[str, Any]:
        async with bridge.connect(bridge.url) as ws:
            frame = {"type": "hello", "rid": "h", "protocol": PROTOCOL_VERSION}
            await ws.send(json.dumps({**frame, "name": "carol", "project": "p"}))
            answer: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), 5))
            return answer

    with ThreadedBridge(listen=False) as threaded:
        assert threaded.url == NO_PORT_URL
        assert asyncio.run(asyncio.wait_for(hello(threaded), 10))["address"] == "carol (p)"


@contextlib.asynccontextmanager
async def registered(name: str) -> AsyncIterator[tuple[BridgeServer, ClientConnection]]:
    """A bridge reached over a socketpair, and a raw connection whose hello as ``name
    (p)`` it answered."""
    async with (
        bridge(listen=False) as server,
        socketpair_connect(server)(NO_PORT_URL) as ws,
    ):
        hello = {"type": "hello", "rid": "h", "protocol": PROTOCOL_VERSION}
        await ws.send(json.dumps({**hello, "name": name, "project": "p"}))
        welcome = json.loads(await asyncio.wait_for(ws.recv(), 5))
        assert welcome["type"] == "welcome"
        yield server, ws


def test_an_idle_connection_has_no_writer_task() -> None:
    """The bridge writes a connection's frames from a callback at the end of the loop turn:
    once its hello is answered, an idle connection has no task of the bridge's waiting
    to write (10,000 idle peers cost no task, coroutine nor future each; issue 13)."""

    async def scenario() -> None:
        async with registered("idle-task") as (_, ws):
            ping = await ws.ping()  # the bridge has read and answered: it is idle now
            await asyncio.wait_for(ping, 5)
            names = [t.get_coro().__qualname__ for t in asyncio.all_tasks()]  # type: ignore[union-attr]
            assert [n for n in names if n.startswith("Link.")] == [], names

    run(scenario())


def test_an_idle_connection_keeps_no_frame_nor_empty_queue() -> None:
    """Once its hello is answered, an idle connection keeps neither that frame (a pydantic
    model) nor an empty window queue: 10,000 idle peers cost what they keep (issue 13)."""

    async def scenario() -> None:
        async with registered("idle-kept") as (server, _):
            gc.collect()
            kept = [o for o in gc.get_objects() if isinstance(o, Hello)]
            assert [h for h in kept if h.name == "idle-kept"] == []
            (conn,) = server.router._registry.conns.values()
            assert conn.inflight is None and conn.ready is None

    run(scenario())
