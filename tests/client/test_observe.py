"""BridgeClient as an observer (protocol §9): observe() and sending as a human."""

from __future__ import annotations

import asyncio

from ai_connect.client import BridgeClient, FeedItem
from ai_connect.protocol import FeedEvent, FeedSnapshot
from tests.support.bridge import RestartableBridge, bridge

from .support import make_client, run


async def next_of(feed: asyncio.Queue[FeedItem], kind: str) -> FeedEvent:
    """The next event of ``kind`` (skipping the others), within 5 s."""
    while True:
        item = await asyncio.wait_for(feed.get(), 5)
        if isinstance(item, FeedEvent) and item.kind == kind:
            return item


async def pump(client: BridgeClient, feed: asyncio.Queue[FeedItem]) -> None:
    async for item in client.observe():
        feed.put_nowait(item)


def test_observe_yields_the_snapshot_then_live_events_without_frames() -> None:
    """A message, its delivery and its ack (path hook) come out of observe() in order;
    the observer never shows up as a peer."""

    async def scenario() -> None:
        async with (
            bridge(listen=False) as srv,
            make_client(srv, "Alice") as alice,
            make_client(srv, "Bob") as bob,
            make_client(srv, "Ops", mode="observe") as ops,
        ):
            feed: asyncio.Queue[FeedItem] = asyncio.Queue()
            task = asyncio.create_task(pump(ops, feed))
            snapshot = await asyncio.wait_for(feed.get(), 5)
            assert isinstance(snapshot, FeedSnapshot)
            assert [p.address for p in snapshot.peers] == ["Alice (proj)", "Bob (proj)"]
            receipt = await alice.send("Bob", "hello")
            message = await next_of(feed, "message")
            assert message.message is not None and message.message.id == receipt.id
            delivered = await next_of(feed, "delivered")
            assert delivered.delivery is not None and delivered.delivery.id == receipt.id
            (got,) = await bob.wait(5)
            await bob.ack([got], path="hook")
            shown = await next_of(feed, "shown")
            assert shown.delivery is not None
            assert (shown.delivery.id, shown.delivery.path) == (receipt.id, "hook")
            assert "Ops (proj)" not in [p.address for p in await alice.peers()]
            await ops.close()
            await asyncio.wait_for(task, 5)  # the loop ends with the client

    run(scenario())


def test_an_observer_sends_as_a_human_and_the_agent_sees_it_marked() -> None:
    """send(as_=...) from an observer reaches the peer flagged human, from the name."""

    async def scenario() -> None:
        async with (
            bridge(listen=False) as srv,
            make_client(srv, "Bob") as bob,
            make_client(srv, "Ops", mode="observe") as ops,
        ):
            receipt = await ops.send("Bob", "stop for today", as_="Ada")
            assert receipt.recipients == ("Bob (proj)",)
            (got,) = await bob.wait(5)
            assert (got.sender, got.human) == ("Ada (proj)", True)
            assert got.as_dict()["human"] is True

    run(scenario())


def test_after_a_reconnect_observe_starts_over_from_a_new_snapshot() -> None:
    """The bridge restarts: observe() yields a fresh snapshot, then events again."""

    async def scenario() -> None:
        async with (
            RestartableBridge() as srv,
            make_client(srv, "Ops", mode="observe") as ops,
            make_client(srv, "Bob"),
        ):
            feed: asyncio.Queue[FeedItem] = asyncio.Queue()
            task = asyncio.create_task(pump(ops, feed))
            assert isinstance(await asyncio.wait_for(feed.get(), 5), FeedSnapshot)
            await srv.restart()
            while not isinstance(item := await asyncio.wait_for(feed.get(), 5), FeedSnapshot):
                pass
            assert [p.address for p in item.peers] == ["Bob (proj)"]
            task.cancel()

    run(scenario())
