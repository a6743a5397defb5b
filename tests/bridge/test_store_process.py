"""The bridge on SQLite written by a child process (issue 13, item 5): a killed child
loses nothing accepted, refuses what was not, and stops the bridge without a hang."""

from __future__ import annotations

import asyncio
import json
import os
import signal
from pathlib import Path
from typing import Any

from websockets.asyncio.client import ClientConnection

from ai_connect.bridge.store.sqlite import SqliteStore
from ai_connect.bridge.store.sqlite.process import SqliteProcessStore
from ai_connect.protocol import PROTOCOL_VERSION
from tests.client.support import run
from tests.support.bridge import NO_PORT_URL, bridge, socketpair_connect

BOB = "bob (p)"


async def request(ws: ClientConnection, frame: dict[str, Any], *replies: str) -> dict[str, Any]:
    """Sends ``frame``; the first frame back whose type is one of ``replies``."""
    await ws.send(json.dumps(frame))
    return await receive(ws, *replies)


async def receive(ws: ClientConnection, *replies: str) -> dict[str, Any]:
    """The first frame whose type is one of ``replies``."""
    while True:
        got: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), 10))
        if got["type"] in replies:
            return got


async def hello(ws: ClientConnection, name: str) -> None:
    frame = {"type": "hello", "rid": "h", "protocol": PROTOCOL_VERSION, "name": name}
    await request(ws, {**frame, "project": "p"}, "welcome")


def send_frame(body: str) -> dict[str, Any]:
    return {"type": "send", "rid": body, "cid": body, "to": BOB, "body": body}


def test_a_killed_store_process_stops_the_bridge_and_loses_nothing_accepted(
    tmp_path: Path,
) -> None:
    """kill -9 of the child: the accepted message stays stored, the next send is refused
    (not accepted), the bridge reports why and closes within its time."""
    db = tmp_path / "bridge.db"

    async def scenario() -> None:
        store = SqliteProcessStore(db)
        async with asyncio.timeout(60), bridge(store, listen=False) as server:
            connect = socketpair_connect(server)
            async with connect(NO_PORT_URL) as alice, connect(NO_PORT_URL) as bob:
                await hello(alice, "alice")
                await hello(bob, "bob")
                first = await request(alice, send_frame("kept"), "accepted", "error")
                assert first["type"] == "accepted"
                os.kill(store.pid, signal.SIGKILL)
                why = await asyncio.wait_for(server.wait_failure(), 30)
                assert f"pid {store.pid}" in why and "SIGKILL" in why
                second = await request(alice, send_frame("refused"), "accepted", "error")
                assert second["type"] == "error", second
        assert server.failure == why

    run(scenario())
    with SqliteStore(db) as reopened:
        bodies = [e.message.body for e in reopened.pending(BOB, 0, 10, 10_000)]
    assert bodies == ["kept"]


def test_a_bridge_on_a_store_process_delivers_and_stops_cleanly(tmp_path: Path) -> None:
    """A message goes from alice to bob through the child's commit; close() ends the
    child without reporting a failure."""

    async def scenario() -> None:
        store = SqliteProcessStore(tmp_path / "bridge.db")
        async with asyncio.timeout(60), bridge(store, listen=False) as server:
            connect = socketpair_connect(server)
            async with connect(NO_PORT_URL) as alice, connect(NO_PORT_URL) as bob:
                await hello(alice, "alice")
                await hello(bob, "bob")
                await request(alice, send_frame("hi"), "accepted")
                got = await receive(bob, "deliver")
                assert got["body"] == "hi", got
        assert server.failure is None
        assert store._proc.returncode == 0

    run(scenario())
