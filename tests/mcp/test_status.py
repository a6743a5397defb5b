"""The MCP server's part in the work status: while its model waits in peer_wait, the
session shows as waiting (docs/protocol.md §11), and as before once a message came."""

from __future__ import annotations

import asyncio
from pathlib import Path

from ai_connect.repo_identity import RepoIdentity
from ai_connect.work_status.observe import Observation
from ai_connect.work_status.publisher import Publisher
from ai_connect.work_status.settings import StatusSettings
from ai_connect.work_status.tracker import GitState
from tests.client.support import make_client, run
from tests.mcp.support import call, data, served, settings
from tests.support.inprocess import bridge

ROOT = Path("/w/app")


def test_peer_wait_shows_the_session_waiting_then_working_again() -> None:
    """peer_wait marks the server's own status waiting for as long as it blocks."""

    async def scenario() -> None:
        async with bridge() as br, served(settings(br.url, "alice")) as (client, hub):
            publisher = Publisher(
                hub.default, StatusSettings(), ROOT,
                read=lambda _: GitState("main", "abc1234", 0),
                identify=lambda _: RepoIdentity(ROOT, "github.com/org/app", "app"),
            )  # fmt: skip
            marked = asyncio.Event()
            mark = publisher.waiting

            def waiting(on: bool) -> None:
                mark(on)
                if on:
                    marked.set()

            publisher.waiting = waiting  # type: ignore[method-assign]
            hub.publisher = publisher
            task = asyncio.create_task(publisher.run())
            try:
                await hub.ready(hub.default)
                publisher.take(Observation("working", (), str(ROOT)))
                await publisher.settled(5)
                waiter = asyncio.create_task(call(client, "peer_wait", timeout_s=30))
                await asyncio.wait_for(marked.wait(), 5)
                await publisher.settled(5)
                assert publisher.sent is not None and publisher.sent.activity == "waiting"
                async with make_client(br.url, "bob", "proj") as bob:
                    await bob.send("alice", "done")
                got = await asyncio.wait_for(waiter, 10)
                assert data(got)["timed_out"] is False
                await publisher.settled(5)
                after = publisher.sent
                assert after is not None and (after.activity, publisher.frames) == ("working", 3)
            finally:
                task.cancel()

    run(scenario())
