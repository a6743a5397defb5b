"""Three bridge nodes on one PostgreSQL database (issue 14, item 3): mail sent through one
node reaches peers held by the others, live (LISTEN/NOTIFY wakes them, nothing polls);
broadcasts reach every node's peers; a peer that moves to another node finds its mailbox
there and resumes where it was."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from typing import Any

from ai_connect.bridge.auth import new_token
from ai_connect.bridge.server import BridgeServer
from ai_connect.bridge.store.postgres import PostgresStore
from ai_connect.client import BridgeClient
from ai_connect.protocol import Presence
from tests.client.support import listen, run, take
from tests.client.support import make_client as client_of
from tests.support.bridge import bridge

WAIT_S = 20.0
"""Upper bound of one wait: a loaded machine runs 3 nodes and PostgreSQL on 2 cores."""


def make_client(target: BridgeServer, name: str, **options: Any) -> BridgeClient:
    """A client of one node, waiting up to ``WAIT_S`` for each reply."""
    return client_of(target, name, request_timeout=WAIT_S, **options)


@contextlib.asynccontextmanager
async def nodes(url: str, count: int = 3) -> AsyncIterator[list[BridgeServer]]:
    """``count`` bridges (listen=False), each with its own store on the database ``url``."""
    async with contextlib.AsyncExitStack() as stack:
        yield [
            await stack.enter_async_context(bridge(PostgresStore(url), listen=False))
            for _ in range(count)
        ]


def test_a_message_crosses_nodes_live_both_ways(pg_url: str) -> None:
    """alice on node A and bob on node C: each one's send reaches the other at once."""

    async def scenario() -> None:
        async with nodes(pg_url) as (a, _b, c):
            alice, bob = make_client(a, "alice"), make_client(c, "bob")
            async with alice, bob:
                assert alice.address is not None and bob.address is not None
                to_bob, to_alice = listen(bob), listen(alice)
                for i in range(5):
                    await alice.send(bob.address, f"hello {i}")
                got = await take(to_bob, 5, WAIT_S)
                assert [m.body for m in got] == [f"hello {i}" for i in range(5)]
                assert [m.seq for m in got] == [1, 2, 3, 4, 5]
                await bob.send(alice.address, "hi back")
                assert [m.body for m in await take(to_alice, 1, WAIT_S)] == ["hi back"]

    run(scenario(), timeout=120)


def test_a_broadcast_reaches_the_peers_of_every_node(pg_url: str) -> None:
    """A broadcast sent through node A reaches peers held by A, B and C, once each."""

    async def scenario() -> None:
        async with nodes(pg_url) as (a, b, c):
            sender = make_client(a, "sender")
            readers = [make_client(n, f"r{i}") for i, n in enumerate((a, b, c))]
            async with sender, readers[0], readers[1], readers[2]:
                inboxes = [listen(r) for r in readers]
                for reader in readers:  # registered, and its record committed (durable)
                    assert reader.address is not None
                    await reader.send(reader.address, "note to self")
                for inbox in inboxes:
                    assert [m.body for m in await take(inbox, 1, WAIT_S)] == ["note to self"]
                await sender.send("*", "to everyone")
                for inbox in inboxes:
                    assert [m.body for m in await take(inbox, 1, WAIT_S)] == ["to everyone"]
                assert all(inbox.empty() for inbox in inboxes)

    run(scenario(), timeout=120)


def test_a_peer_moving_to_another_node_resumes_its_mailbox(pg_url: str) -> None:
    """bob's session leaves node B; mail sent to him through A meanwhile is waiting for
    him when the session comes back on C, after the last message he acked, nothing twice."""

    async def scenario() -> None:
        async with nodes(pg_url) as (a, b, c):
            alice = make_client(a, "alice")
            async with alice:
                bob = make_client(b, "bob", session="bob-s")
                async with bob:
                    inbox = listen(bob)
                    assert bob.address is not None
                    address = bob.address
                    await alice.send(address, "first")
                    (first,) = await take(inbox, 1, WAIT_S)
                    await bob.ack([first])
                for i in range(3):
                    await alice.send(address, f"while away {i}")
                again = make_client(c, "bob", session="bob-s")  # the same agent
                async with again:
                    assert again.address == address
                    inbox = listen(again)
                    got = await take(inbox, 3, WAIT_S)
                    assert [m.body for m in got] == [f"while away {i}" for i in range(3)]
                    assert [m.seq for m in got] == [2, 3, 4]

    run(scenario(), timeout=120)


def test_presence_and_names_are_cluster_wide(pg_url: str) -> None:
    """bob on node A: a watcher on node C hears him join and shows him online; another
    session named bob on C gets bob#2; the same session moving to C keeps its address;
    bob leaving A is heard on C."""

    async def scenario() -> None:
        async with nodes(pg_url) as (a, _b, c):
            watcher = make_client(c, "watcher", presence=True)
            events: asyncio.Queue[tuple[str, str]] = asyncio.Queue()
            watcher.add_listener(
                lambda item: (
                    events.put_nowait((item.event, item.peer.address))
                    if isinstance(item, Presence)
                    else None
                )
            )
            async with watcher:
                bob = make_client(a, "bob", session="bob-1")
                async with bob:
                    assert bob.address == "bob (proj)"
                    assert await asyncio.wait_for(events.get(), WAIT_S) == ("join", "bob (proj)")
                    listed = {p.address: p.online for p in await watcher.peers()}
                    assert listed["bob (proj)"] is True
                    other = make_client(c, "bob", session="bob-2")
                    async with other:
                        assert other.address == "bob#2 (proj)"
                    assert await asyncio.wait_for(events.get(), WAIT_S) == ("join", "bob#2 (proj)")
                    assert await asyncio.wait_for(events.get(), WAIT_S) == ("leave", "bob#2 (proj)")
                assert await asyncio.wait_for(events.get(), WAIT_S) == ("leave", "bob (proj)")
                again = make_client(c, "bob", session="bob-1")
                async with again:
                    assert again.address == "bob (proj)"

    run(scenario(), timeout=120)


def presence_events(client: BridgeClient) -> asyncio.Queue[tuple[str, str]]:
    """(event, address) of each presence frame the client gets."""
    events: asyncio.Queue[tuple[str, str]] = asyncio.Queue()

    def on_item(item: object) -> None:
        if isinstance(item, Presence):
            events.put_nowait((item.event, item.peer.address))

    client.add_listener(on_item)
    return events


async def until(events: asyncio.Queue[tuple[str, str]], wanted: tuple[str, str]) -> None:
    """Takes presence events until ``wanted`` (10 s at most for each)."""
    while await asyncio.wait_for(events.get(), WAIT_S) != wanted:
        pass


def test_admin_status_shows_every_node(pg_url: str) -> None:
    """admin_status on node A lists both nodes with their sessions, A marked as itself,
    and the peers held by node B as online."""
    token, record = new_token("ops", names=["*"], admin=True, now=time.time())

    async def scenario() -> None:
        async with (
            bridge(PostgresStore(pg_url), listen=False, tokens=[record]) as a,
            bridge(PostgresStore(pg_url), listen=False) as b,
        ):
            watch = make_client(b, "w", token=token, presence=True)
            ops = make_client(a, "ops", token=token, presence=True)
            async with watch, ops:
                at_b, at_a = presence_events(watch), presence_events(ops)
                await until(at_b, ("join", "ops (proj)"))  # node B knows ops is held on A
                async with make_client(b, "ops", token=token, session="other") as other:
                    assert other.address == "ops#2 (proj)"
                    await until(at_a, ("join", "ops#2 (proj)"))
                    report = await ops.admin_status()
                    nodes = sorted((n.this, n.sessions, n.alive) for n in report.nodes)
                    assert nodes == [(False, 2, True), (True, 1, True)], report.nodes
                    online = {p.address for p in report.peers if p.online}
                    assert online == {"ops (proj)", "ops#2 (proj)", "w (proj)"}

    run(scenario(), timeout=120)


def test_a_lease_claimed_on_one_node_holds_on_another(pg_url: str) -> None:
    """alice claims through node A; bob, on node B, is refused with alice's lease until
    she releases it. (Node B reads the leases after A's commit, before the mail that
    alice sends afterwards: once bob has her message, B knows her lease.)"""
    repo = "github.com/org/app"

    async def scenario() -> None:
        async with nodes(pg_url, 2) as (a, b):
            alice = make_client(a, "alice", kind="mcp")
            bob = make_client(b, "bob", kind="mcp")
            async with alice, bob:
                assert bob.address is not None
                inbox = listen(bob)
                await alice.claim(repo, ["src/app.py"], ttl=600, reason="rename")
                await alice.send(bob.address, "claimed src/app.py")
                await take(inbox, 1, WAIT_S)
                refused = await bob.claim(repo, ["src/*.py"])
                (conflict,) = refused.conflicts
                assert (conflict.lease.holder, conflict.lease.reason) == ("alice (proj)", "rename")
                assert refused.leases == []
                await alice.release(repo)
                await alice.send(bob.address, "released it")
                await take(inbox, 1, WAIT_S)
                assert (await bob.claim(repo, ["src/*.py"])).conflicts == []

    run(scenario(), timeout=120)
