"""No single client stalls or bloats the bridge (issue 11, items 1 and 2).

Queries and writes run on their own threads, so neither waits for the other: a store
whose commit (or history) is held open shows it. A client that asks for pages and never
reads them is simply not read any more, its replies bounded in bytes, and gets every one
once it reads. Behaviour only: every wait is bounded, nothing is timed.
"""

from __future__ import annotations

import asyncio
import json
import threading
from typing import Any

from ai_connect.bridge.links import LinkLimits
from ai_connect.bridge.store.base import AppendOp, StoredMessage, WriteBatch
from ai_connect.bridge.store.memory import MemoryStore
from ai_connect.protocol import Limits
from tests.support.bridge import NO_PORT_URL, bridge, socketpair_connect

from ..client.support import listen, make_client, run, take


class GatedStore(MemoryStore):
    """A MemoryStore whose commits or history reads wait at a gate the test holds."""

    def __init__(self) -> None:
        super().__init__()
        self.commit_gate, self.history_gate = threading.Event(), threading.Event()
        self.commit_gate.set()
        self.history_gate.set()
        self.in_commit, self.in_history = threading.Event(), threading.Event()

    def commit(self, batch: WriteBatch) -> Any:
        if not self.commit_gate.is_set():
            self.in_commit.set()
            self.commit_gate.wait(10)
        return super().commit(batch)

    def history(self, *args: Any, **kwargs: Any) -> Any:
        if not self.history_gate.is_set():
            self.in_history.set()
            self.history_gate.wait(10)
        return super().history(*args, **kwargs)


async def reached(event: threading.Event) -> None:
    assert await asyncio.to_thread(event.wait, 5), "the store call never started"


def test_a_query_is_answered_while_a_commit_is_held() -> None:
    """A commit stuck in the store (slow disk) does not hold up history."""

    async def scenario() -> None:
        store = GatedStore()
        async with bridge(store, listen=False) as server:
            alice, bob = make_client(server, "alice"), make_client(server, "bob")
            await alice.connect()
            await bob.connect()
            store.commit_gate.clear()
            sending = asyncio.create_task(alice.send("bob", "stuck in a commit"))
            await reached(store.in_commit)
            page = await asyncio.wait_for(bob.history(), 5)
            assert page.messages == []  # the held commit is not visible yet
            store.commit_gate.set()
            await asyncio.wait_for(sending, 5)
            for client in (alice, bob):
                await client.close()

    run(scenario())


def test_a_send_is_accepted_while_a_query_is_held() -> None:
    """A history query stuck in the store does not hold up the group commit."""

    async def scenario() -> None:
        store = GatedStore()
        async with bridge(store, listen=False) as server:
            alice, bob = make_client(server, "alice"), make_client(server, "bob")
            await alice.connect()
            await bob.connect()
            mail = listen(bob)
            store.history_gate.clear()
            asking = asyncio.create_task(alice.history())
            await reached(store.in_history)
            await asyncio.wait_for(alice.send("bob", "not behind a query"), 5)
            assert (await take(mail))[0].body == "not behind a query"
            store.history_gate.set()
            await asyncio.wait_for(asking, 5)
            for client in (alice, bob):
                await client.close()

    run(scenario())


REQUESTS = 100
BODY = "x" * 8_000


def test_a_client_that_asks_for_pages_and_never_reads_is_not_read() -> None:
    """The bridge stops reading it once its unread replies pass pause_bytes: its backlog
    stays within max_replies replies of that bound while 100 pages wait to be asked for;
    once it reads, every page comes, in order, and nothing was dropped or closed."""

    async def scenario() -> None:
        store = MemoryStore()
        bob = "bob (proj)"  # alice sent them: her history, not her mailbox
        for i in range(40):
            message = StoredMessage(
                f"m{i}", "alice (proj)", bob, BODY, None, None, None, 1.0, f"{i}"
            )
            store.commit(WriteBatch(appends=[AppendOp(message, (bob,))]))
        page_bytes, pause = 64_000, 128_000
        settings: dict[str, Any] = {
            "limits": Limits(page_bytes=page_bytes),
            "link": LinkLimits(pause_bytes=pause),
        }
        async with bridge(store, listen=False, **settings) as server:
            ws = await socketpair_connect(server)(NO_PORT_URL, max_queue=1, compression=None)
            hello = {"type": "hello", "rid": "h", "protocol": 1, "name": "alice", "project": "proj"}
            await ws.send(json.dumps(hello))
            assert json.loads(await asyncio.wait_for(ws.recv(), 5))["type"] == "welcome"
            (link,) = server.links.values()

            async def ask() -> None:
                for i in range(REQUESTS):
                    await ws.send(json.dumps({"type": "history", "rid": i, "limit": 500}))

            asking = asyncio.create_task(ask())
            await asyncio.wait_for(link.stalled.wait(), 10)
            # Read only while at most `pause` waited, with at most max_replies replies
            # being made: each a page's messages and its JSON around them.
            one_reply = page_bytes + 2_000
            assert link.backlog <= pause + link.limits.max_replies * one_reply
            assert link.replies <= link.limits.max_replies
            rids: list[int] = []
            while len(rids) < REQUESTS:
                frame = json.loads(await asyncio.wait_for(ws.recv(), 10))
                assert frame["type"] == "history_page", frame
                assert len(frame["messages"]) == 8 and frame["before"] is not None
                rids.append(frame["rid"])
            assert rids == list(range(REQUESTS))
            await asyncio.wait_for(asking, 5)
            assert not link.closing
            await ws.close()

    run(scenario(), timeout=60)
