"""The mailbox entries another node's notice carried (bridge/server.py ``_carried``):
kept only for recipients held here, taken by a load in a row from where it starts, within
its count and bytes, never twice; what is missing is read from the store."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from ai_connect.bridge import server as server_module
from ai_connect.bridge.events import LoadPending
from ai_connect.bridge.server import BridgeServer
from ai_connect.bridge.store.base import MailboxEntry, StoredMessage
from ai_connect.bridge.store.memory import MemoryStore
from tests.client.support import make_client, run
from tests.support.bridge import bridge


def entry(recipient: str, seq: int, body: str = "hi") -> MailboxEntry:
    message = StoredMessage(
        f"m{seq}", "Alice (p)", recipient, body, None, None, None, 1.0, f"c{seq}"
    )
    return MailboxEntry(recipient, seq, message)


def with_bob(check: Callable[[BridgeServer, str], None]) -> None:
    """Runs ``check(server, bob's address)`` on a bridge where bob is connected."""

    async def scenario() -> None:
        async with bridge(MemoryStore()) as server:
            bob = make_client(server, "bob")
            async with bob:
                assert bob.address is not None
                check(server, bob.address)

    run(scenario())


def test_carried_entries_are_kept_for_held_recipients_and_taken_in_a_row_once() -> None:
    def check(server: BridgeServer, address: str) -> None:
        elsewhere = "Carol (p)"  # not held here: nothing kept for her
        carried = (entry(elsewhere, 1), *(entry(address, s) for s in (3, 4, 5, 7)))
        server._moved({}, {}, carried)
        # Not for a load before their tips are moved here (after the proposals'
        # and leases' reads, as the mail they carry would be read).
        assert server._carried_page(LoadPending(1, address, 2, 10, 1 << 20)) == ()
        assert server._arriving == list(carried[1:])
        server._keep(server._arriving)
        server._arriving.clear()
        assert elsewhere not in server._carried
        load = LoadPending(1, address, 1, 10, 1 << 20)
        assert server._carried_page(load) == ()  # seq 2 missing: read the store
        load = LoadPending(1, address, 2, 2, 1 << 20)
        assert [e.seq for e in server._carried_page(load)] == [3, 4]  # the count
        assert [e.seq for e in server._carried_page(load)] == []  # taken once
        server._keep([entry(address, 6, "x" * 100)])
        load = LoadPending(1, address, 4, 10, 50)
        # The first always comes (as a store page), then the bytes stop it.
        assert [e.seq for e in server._carried_page(load)] == [5]
        load = LoadPending(1, address, 5, 10, 50)
        assert [e.seq for e in server._carried_page(load)] == [6]
        load = LoadPending(1, address, 9, 10, 1 << 20)
        assert server._carried_page(load) == ()  # 7 is known here already
        assert address not in server._carried
        # Kept for someone no connection here acts for (any more): dropped
        # with the next entries kept.
        server._carried["Dan (p)"] = {10: entry("Dan (p)", 10)}
        server._keep([])
        assert "Dan (p)" not in server._carried

    with_bob(check)


def test_kept_entries_are_bounded_per_recipient(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(server_module, "CARRIED_MOST", 3)

    def check(server: BridgeServer, address: str) -> None:
        server._keep([entry(address, s) for s in range(1, 6)])
        assert sorted(server._carried[address]) == [3, 4, 5]  # the newest

    with_bob(check)
