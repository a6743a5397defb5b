"""The agents tests' wait for a peer to come online (presence.py), on a real bridge."""

from __future__ import annotations

import asyncio

from tests.agents.presence import Joins
from tests.client.support import make_client
from tests.support.bridge import bridge


def test_online_with_waits_for_the_join_of_a_peer_that_registers_later() -> None:
    async def scenario() -> None:
        async with (
            bridge() as br,
            make_client(br.url, "alice", "proj", presence=True) as alice,
        ):
            joins = Joins(alice)
            waiting = asyncio.create_task(joins.online_with("bob (proj)", 10))
            await asyncio.sleep(0)  # it starts asking: bob is not there yet
            assert not waiting.done()
            async with make_client(br.url, "bob", "proj"):
                online = await asyncio.wait_for(waiting, 10)
            assert "bob (proj)" in online
            assert await joins.online_with("carol (proj)", 0.2) == ["alice (proj)"]

    asyncio.run(asyncio.wait_for(scenario(), 30))
