"""bridge/server.py: an ack nobody waits for rides with the next commit (issue 13, item 4)."""

from __future__ import annotations

import asyncio
import json
import threading
from typing import Any

from websockets.asyncio.client import ClientConnection

from ai_connect.bridge.server import BridgeServer
from ai_connect.bridge.store.base import CommitResult, WriteBatch
from ai_connect.protocol import PROTOCOL_VERSION
from tests.client.support import run
from tests.support.bridge import NO_PORT_URL, SharedStore, bridge, socketpair_connect

BOB = "bob (p)"


class CountingStore(SharedStore):
    """A MemoryStore that keeps each committed batch."""

    def __init__(self) -> None:
        super().__init__()
        self.batches: list[WriteBatch] = []

    def commit(self, batch: WriteBatch) -> CommitResult:
        self.batches.append(batch)
        return super().commit(batch)

    def acked(self, address: str) -> int:
        return next(p.acked for p in self.peers() if p.address == address)


async def request(ws: ClientConnection, frame: dict[str, Any], reply: str) -> dict[str, Any]:
    """Sends ``frame``; the first frame of type ``reply`` that comes back."""
    await ws.send(json.dumps(frame))
    return await reply_of(ws, reply)


async def reply_of(ws: ClientConnection, reply: str) -> dict[str, Any]:
    """The next frame of type ``reply`` (frames of other types are skipped)."""
    while True:
        got: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), 5))
        if got["type"] == reply:
            return got


async def hello(ws: ClientConnection, name: str) -> None:
    frame = {"type": "hello", "rid": "h", "protocol": PROTOCOL_VERSION, "name": name}
    await request(ws, {**frame, "project": "p"}, "welcome")


async def send(ws: ClientConnection, body: str) -> dict[str, Any]:
    frame = {"type": "send", "rid": body, "cid": body, "to": BOB, "body": body}
    return await request(ws, frame, "accepted")


def scenario(test: Any, store: CountingStore | None = None) -> None:
    """Runs ``test(server, store, alice, bob)`` with acks held for a minute at most, on
    ``store`` (a fresh :class:`CountingStore` by default)."""

    async def go() -> None:
        nonlocal store
        store = store or CountingStore()
        async with bridge(store, listen=False, ack_delay_s=60.0) as server:
            connect = socketpair_connect(server)
            async with connect(NO_PORT_URL) as alice, connect(NO_PORT_URL) as bob:
                await hello(alice, "alice")
                await hello(bob, "bob")
                await test(server, store, alice, bob)

    run(go())


def test_an_ack_without_rid_waits_for_the_next_commit() -> None:
    """Bob's plain ack starts no commit; Alice's next message carries it, in one commit."""

    async def test(
        server: BridgeServer, store: CountingStore, alice: ClientConnection, bob: ClientConnection
    ) -> None:
        await send(alice, "one")
        deliver = json.loads(await asyncio.wait_for(bob.recv(), 5))
        assert deliver["type"] == "deliver"
        commits = len(store.batches)
        await bob.send(json.dumps({"type": "ack", "seq": deliver["seq"]}))
        await request(bob, {"type": "ping", "rid": "after"}, "pong")  # the ack was read
        assert len(store.batches) == commits and store.acked(BOB) == 0
        await send(alice, "two")
        assert len(store.batches) == commits + 1
        assert [a.seq for a in store.batches[-1].acks] == [1]
        assert len(store.batches[-1].appends) == 1 and store.acked(BOB) == 1

    scenario(test)


def test_an_ack_with_a_rid_is_committed_at_once() -> None:
    """An ack someone waits for is answered after its own commit, whatever the delay."""

    async def test(
        server: BridgeServer, store: CountingStore, alice: ClientConnection, bob: ClientConnection
    ) -> None:
        await send(alice, "one")
        deliver = json.loads(await asyncio.wait_for(bob.recv(), 5))
        acked = await request(bob, {"type": "ack", "seq": deliver["seq"], "rid": "k"}, "acked")
        assert acked == {"type": "acked", "rid": "k", "seq": 1}
        assert store.acked(BOB) == 1

    scenario(test)


def test_a_closing_bridge_commits_the_acks_still_waiting() -> None:
    """Nothing is lost at shutdown: the held ack is stored before the store closes."""
    store = CountingStore()

    async def go() -> None:
        async with bridge(store, listen=False, ack_delay_s=60.0) as server:
            connect = socketpair_connect(server)
            async with connect(NO_PORT_URL) as alice, connect(NO_PORT_URL) as bob:
                await hello(alice, "alice")
                await hello(bob, "bob")
                await send(alice, "one")
                deliver = json.loads(await asyncio.wait_for(bob.recv(), 5))
                await bob.send(json.dumps({"type": "ack", "seq": deliver["seq"]}))
                await request(bob, {"type": "ping", "rid": "after"}, "pong")
                assert store.acked(BOB) == 0
        assert store.acked(BOB) == 1

    run(go())


def test_a_held_ack_is_committed_after_the_delay() -> None:
    """With nothing else to commit, the ack goes alone once ack_delay_s has passed."""

    async def go() -> None:
        store = CountingStore()
        async with bridge(store, listen=False, ack_delay_s=0.01) as server:
            connect = socketpair_connect(server)
            async with connect(NO_PORT_URL) as alice, connect(NO_PORT_URL) as bob:
                await hello(alice, "alice")
                await hello(bob, "bob")
                await send(alice, "one")
                deliver = json.loads(await asyncio.wait_for(bob.recv(), 5))
                committed = asyncio.Event()
                real = store.commit

                def commit(batch: WriteBatch) -> CommitResult:
                    result = real(batch)
                    if batch.acks:
                        server_loop.call_soon_threadsafe(committed.set)
                    return result

                server_loop = asyncio.get_running_loop()
                store.commit = commit  # type: ignore[method-assign]
                await bob.send(json.dumps({"type": "ack", "seq": deliver["seq"]}))
                await asyncio.wait_for(committed.wait(), 5)
                assert store.acked(BOB) == 1

    run(go())


def test_a_leaving_client_s_held_ack_is_committed_at_once() -> None:
    """Bob acks and leaves: his ack is stored now (with his last_seen), not after the delay,
    since he may come
    back at once (here, or on another node of a shared database) and must not be shown
    the message again."""
    import threading

    class AckWatch(CountingStore):
        def __init__(self) -> None:
            super().__init__()
            self.acks_stored = threading.Event()

        def commit(self, batch: WriteBatch) -> CommitResult:
            result = super().commit(batch)
            if batch.acks:
                self.acks_stored.set()
            return result

    store = AckWatch()

    async def go() -> None:
        async with bridge(store, listen=False, ack_delay_s=60.0) as server:
            connect = socketpair_connect(server)
            async with connect(NO_PORT_URL) as alice:
                await hello(alice, "alice")
                async with connect(NO_PORT_URL) as bob:
                    await hello(bob, "bob")
                    await send(alice, "one")
                    deliver = json.loads(await asyncio.wait_for(bob.recv(), 5))
                    await bob.send(json.dumps({"type": "ack", "seq": deliver["seq"]}))
                    await request(bob, {"type": "ping", "rid": "after"}, "pong")
                    assert store.acked(BOB) == 0
                assert await asyncio.to_thread(store.acks_stored.wait, 10)
                assert store.acked(BOB) == 1

    run(go())


def test_a_receipt_read_waits_for_the_commit_carrying_the_ack() -> None:
    """A receipts query that arrives while the commit holding Bob's ack is still running
    is read after that commit, not beside it: an ack a commit in flight has taken from the
    batch is as much "not stored yet" as one still waiting in the batch (seen once in CI:
    a [receipt] notice, then peer_status still saying "delivered")."""

    class GatedStore(CountingStore):
        def __init__(self) -> None:
            super().__init__()
            self.gate = threading.Event()  # the ack's commit waits for it
            self.entered = threading.Event()  # the ack's commit has started
            self.ack_stored = threading.Event()
            self.read = threading.Event()
            self.read_before_ack: bool | None = None

        def commit(self, batch: WriteBatch) -> CommitResult:
            if batch.acks:
                self.entered.set()
                assert self.gate.wait(10), "the test never opened the gate"
            result = super().commit(batch)
            if batch.acks:
                self.ack_stored.set()
            return result

        def receipts(self, message_id: str) -> Any:
            self.read_before_ack = not self.ack_stored.is_set()
            self.read.set()
            return super().receipts(message_id)

    async def test(
        server: BridgeServer, store: GatedStore, alice: ClientConnection, bob: ClientConnection
    ) -> None:
        accepted = await send(alice, "one")
        deliver = json.loads(await asyncio.wait_for(bob.recv(), 5))
        await bob.send(json.dumps({"type": "ack", "seq": deliver["seq"], "rid": "k"}))
        assert await asyncio.to_thread(store.entered.wait, 5)  # the commit is held
        await alice.send(json.dumps({"type": "receipts", "rid": "r", "id": accepted["id"]}))
        # A read beside the held commit would come at once (it did, before the fix): give
        # it half a second to show, then let the commit finish.
        await asyncio.to_thread(store.read.wait, 0.5)
        store.gate.set()
        report = await reply_of(alice, "receipt_report")
        assert store.read_before_ack is False
        [bob_receipt] = report["recipients"]
        assert (bob_receipt["recipient"], bob_receipt["state"]) == (BOB, "shown"), report

    scenario(test, GatedStore())
