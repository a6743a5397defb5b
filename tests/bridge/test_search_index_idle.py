"""The bridge's store thread does the store's idle work (store/base.py ``Upkept``): on
SQLite, the search index of the messages committed while it was busy (search_index.py)."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest

from ai_connect.bridge.store.sqlite import SqliteStore, search_index
from tests.bridge.test_store_process import hello, request, send_frame
from tests.client.support import run
from tests.support.bridge import NO_PORT_URL, bridge, socketpair_connect


def test_the_store_thread_indexes_a_message_once_it_is_idle(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(search_index, "INDEX_BATCH", 1)  # one message waiting is due
    indexed = threading.Event()
    threads: list[str] = []

    class Store(SqliteStore):
        def upkeep(self) -> float | None:
            wait = super().upkeep()
            if self._index.upto >= 1:
                threads.append(threading.current_thread().name)
                indexed.set()
            return wait

    async def scenario() -> None:
        store = Store(tmp_path / "bridge.db")
        async with asyncio.timeout(60), bridge(store, listen=False) as server:
            connect = socketpair_connect(server)
            async with connect(NO_PORT_URL) as alice, connect(NO_PORT_URL) as bob:
                await hello(alice, "alice")
                await hello(bob, "bob")
                accepted = await request(alice, send_frame("findme"), "accepted", "error")
                assert accepted["type"] == "accepted", accepted
                assert await asyncio.to_thread(indexed.wait, 10), "never indexed"

    run(scenario())
    assert threads[0] == "ai-connect-store"
    with SqliteStore(tmp_path / "bridge.db") as reopened:
        ((upto,),) = reopened._db.execute(search_index.UPTO).fetchall()
        assert upto == 1
        assert [m.body for m in reopened.search("bob (p)", "findme", 10)[0]] == ["findme"]
