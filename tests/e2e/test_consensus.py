"""Consensus end to end: three peers on a real bridge over SQLite, restarted mid-vote."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from ai_connect.bridge.consensus_router import BRIDGE_SENDER
from ai_connect.bridge.server import BridgeServer
from ai_connect.bridge.store.sqlite import SqliteStore
from ai_connect.client import BridgeClient
from ai_connect.client.mailbox import Message
from ai_connect.errors import RequestRejected
from tests.client.support import PROJECT, make_client, run, start_bridge


class SqliteBridge:
    """A bridge over one SQLite file, restartable on the same port."""

    def __init__(self, path: Path) -> None:
        self.path, self.port = path, 0
        self.server: BridgeServer | None = None

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    async def start(self) -> None:
        self.server = await start_bridge(SqliteStore(self.path), self.port)
        self.port = self.server.port

    async def stop(self) -> None:
        assert self.server is not None
        server, self.server = self.server, None
        await server.close()


@contextlib.asynccontextmanager
async def peers(url: str, *names: str) -> AsyncIterator[list[BridgeClient]]:
    async with contextlib.AsyncExitStack() as stack:
        yield [await stack.enter_async_context(make_client(url, n)) for n in names]


async def message_in(client: BridgeClient, thread: str, sender: str | None = None) -> Message:
    """The next unread message of ``thread`` (from ``sender``), waiting at most 5 s."""
    for _ in range(20):
        found = [m for m in await client.wait(5.0) if m.thread == thread]
        found = [m for m in found if sender is None or m.sender == sender]
        if found:
            await client.ack(found)
            return found[0]
        await client.ack(client.unread())
    raise AssertionError(f"no message in thread {thread}")


def test_three_peers_vote_through_a_bridge_restart(tmp_path: Path) -> None:
    """A vote stored before a restart counts once after it; the verdict reaches everyone."""

    async def scenario() -> None:
        bridge = SqliteBridge(tmp_path / "bridge.db")
        await bridge.start()
        async with peers(bridge.url, "aifred", "sokrates", "salomo") as (aifred, sok, sal):
            p = await aifred.propose("adopt the new store?", ["sokrates", "salomo"])
            pid = p["id"]
            asked = await message_in(sok, pid)
            assert asked.context is not None and asked.context["proposal"]["id"] == pid
            await message_in(sal, pid)
            await sok.vote(pid, "approve", "cleaner")
            await bridge.stop()
            await bridge.start()
            for client in (aifred, sok, sal):
                await client.wait_connected(5.0)
            kept = await sal.proposal_status(pid)
            assert kept["tally"]["approve"] == 1 and kept["ballots"][0]["reason"] == "cleaner"
            again = await sok.vote(pid, "approve", "still cleaner")
            assert again["tally"]["approve"] == 1  # changed, not counted twice
            done = await sal.vote(pid, "approve", "agreed")
            assert (done["status"], done["outcome"]) == ("decided", "approved")
            assert done["tally"]["approve"] == 2
            for client in (aifred, sok, sal):
                verdict = await message_in(client, pid, BRIDGE_SENDER)
                assert "approved" in verdict.body
        await bridge.stop()
        # And after one more restart the verdict and its record are still there.
        await bridge.start()
        async with peers(bridge.url, "aifred") as (aifred,):
            (kept,) = await aifred.proposals(status="decided")
            assert kept["id"] == pid and len(kept["ballots"]) == 2
        await bridge.stop()

    run(scenario())


def test_a_non_participant_vote_is_refused(tmp_path: Path) -> None:
    """The author, not a participant, is refused with not_participant; nothing counts."""

    async def scenario() -> None:
        bridge = SqliteBridge(tmp_path / "bridge.db")
        await bridge.start()
        async with peers(bridge.url, "aifred", "sokrates", "salomo") as (aifred, sok, _):
            pid = (await aifred.propose("x?", ["sokrates"]))["id"]
            with pytest.raises(RequestRejected) as refused:
                await aifred.vote(pid, "approve")
            assert refused.value.code == "not_participant"
            assert (await sok.proposal_status(pid))["ballots"] == []
        await bridge.stop()

    run(scenario())


def test_a_split_is_ruled_by_the_judge(tmp_path: Path) -> None:
    """Sokrates rejects, another approves: Salomo gets the record and rules."""

    async def scenario() -> None:
        bridge = SqliteBridge(tmp_path / "bridge.db")
        await bridge.start()
        names = ("aifred", "sokrates", "critic", "salomo")
        async with peers(bridge.url, *names) as (aifred, sok, critic, sal):
            p = await aifred.propose(
                "rewrite the router?", ["sokrates", "critic"], rule="unanimous", judge="salomo"
            )
            pid = p["id"]
            assert p["judge"] == f"salomo ({PROJECT})"
            await sok.vote(pid, "reject", "too risky")
            escalated = await critic.vote(pid, "approve", "worth it")
            assert escalated["status"] == "escalated"
            record = await message_in(sal, pid)
            assert "too risky" in record.body and "worth it" in record.body
            ruled = await sal.vote(pid, "reject", "risk outweighs")
            assert (ruled["status"], ruled["outcome"]) == ("decided", "rejected")
        await bridge.stop()

    run(scenario())
