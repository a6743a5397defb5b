"""bridge/server.py: on PostgreSQL (and SQLite's store process) the database commits the
next batch while the bridge answers the last one (issue 14: its 1x1 writer idled through
every commit's replies); on SQLite in the store thread the last one is answered first, as
before (its commit's Python would hold the GIL against the answers: store/base.py
``commits_elsewhere``)."""

from __future__ import annotations

import asyncio
import json
import threading
from typing import Any

import pytest

from ai_connect.bridge.batch import committed
from ai_connect.bridge.events import Committed, Event, Tick
from ai_connect.bridge.store.base import CommitResult, WriteBatch, commits_elsewhere
from ai_connect.bridge.store.memory import MemoryStore
from ai_connect.bridge.store.postgres import PostgresStore
from ai_connect.bridge.store.sqlite import SqliteStore
from ai_connect.bridge.store.sqlite.process import SqliteProcessStore
from tests.bridge.test_ack_folding import hello, request
from tests.client.support import run
from tests.support.bridge import NO_PORT_URL, SharedStore, bridge, socketpair_connect

BOB = "bob (p)"


class HeldStore(SharedStore):
    """A MemoryStore whose first commit of a message waits until the test lets it go;
    its commits done elsewhere (as PostgreSQL's) or not (as SQLite's in the thread)."""

    def __init__(self, elsewhere: bool) -> None:
        super().__init__()
        self.commits_elsewhere = elsewhere
        self.entered = threading.Event()
        self.release = threading.Event()
        self.held = False

    def commit(self, batch: WriteBatch) -> CommitResult:
        if batch.appends and not self.held:
            self.held = True
            self.entered.set()
            if not self.release.wait(10):
                raise TimeoutError("the test never released the commit")
        return super().commit(batch)


@pytest.mark.parametrize("elsewhere", [True, False], ids=["database-server", "store-thread"])
def test_the_next_batch_goes_to_the_writer_before_the_last_one_is_answered(
    elsewhere: bool,
) -> None:
    """Alice's first message is being committed while two more arrive: once that commit
    returns, the batch of the two is handed to the writer before the first one's
    ``accepted`` and ``deliver`` are worked out when a database server commits (after
    them in the store thread); every reply still follows its commit, and Bob gets the
    three in order."""

    async def go() -> None:
        store = HeldStore(elsewhere)
        async with bridge(store, listen=False) as server:
            seen: list[str] = []
            route, store_call = server._route, server._store

            def spy_route(event: Event) -> None:
                if isinstance(event, Committed) and event.appends:
                    seen.append("answered " + ",".join(r.message.body for _, r in event.appends))
                route(event)

            async def spy_store(call: Any, *args: Any) -> Any:
                batch = args[0] if args else None
                if isinstance(batch, WriteBatch) and batch.appends:
                    seen.append("to the writer " + ",".join(a.message.body for a in batch.appends))
                return await store_call(call, *args)

            server._route = spy_route  # type: ignore[method-assign]
            server._store = spy_store  # type: ignore[method-assign,assignment]
            connect = socketpair_connect(server)
            async with connect(NO_PORT_URL) as alice, connect(NO_PORT_URL) as bob:
                await hello(alice, "alice")
                await hello(bob, "bob")
                for body in ("one", "two", "three"):
                    frame = {"type": "send", "rid": body, "cid": body, "to": BOB, "body": body}
                    await alice.send(json.dumps(frame))
                    if body == "one":
                        assert await asyncio.to_thread(store.entered.wait, 5)
                await request(alice, {"type": "ping", "rid": "read"}, "pong")  # two, three read
                store.release.set()
                replies = [json.loads(await asyncio.wait_for(alice.recv(), 5)) for _ in range(3)]
                delivered = [json.loads(await asyncio.wait_for(bob.recv(), 5)) for _ in range(3)]
        second, answer = "to the writer two,three", "answered one"
        assert seen == [
            "to the writer one",
            *((second, answer) if elsewhere else (answer, second)),
            "answered two,three",
        ]
        assert [(r["type"], r["rid"]) for r in replies] == [
            ("accepted", "one"), ("accepted", "two"), ("accepted", "three")
        ]  # fmt: skip
        assert [(d["type"], d["body"], d["seq"]) for d in delivered] == [
            ("deliver", "one", 1), ("deliver", "two", 2), ("deliver", "three", 3)
        ]  # fmt: skip

    run(go())


def test_nothing_overtakes_an_answer_left_for_the_next_turn() -> None:
    """A commit's answer left for the next loop turn (the overlap) reaches the router
    before any event dispatched meanwhile -- a read that returned in between may be newer
    than that commit (two nodes' votes: a proposal read as decided, then undone by this
    node's older answer) -- and only once."""

    async def go() -> None:
        async with bridge(HeldStore(True), listen=False) as server:
            seen: list[str] = []
            route = server._route

            def spy_route(event: Event) -> None:
                seen.append(type(event).__name__)
                route(event)

            server._route = spy_route  # type: ignore[method-assign]
            server._answers.append(committed([], CommitResult([]), 1.0))
            asyncio.get_running_loop().call_soon(server._answer)
            server._dispatch(Tick(2.0))
            await asyncio.sleep(0)  # the turn the answer was left for: nothing left
            assert seen == ["Committed", "Tick"]
            assert server._answers == []

    run(go())


def test_postgresql_and_the_sqlite_process_commit_elsewhere_sqlite_and_memory_here() -> None:
    """PostgreSQL's server and SQLite's store process do a commit's work outside the
    bridge's GIL (the process measured a loss with the overlap on a saturated machine,
    a gain on a quiet one: bench/RESULTS.md); SQLite in the thread and memory do not."""
    for elsewhere in (PostgresStore, SqliteProcessStore):
        assert commits_elsewhere(elsewhere)
    for here in (SqliteStore, MemoryStore):
        assert not commits_elsewhere(here)
