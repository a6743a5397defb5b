"""The bridge's writer: frames queued together leave in one socket write, each frame whole,
in order, and a link that dies mid-write costs nothing but a redelivery."""

from __future__ import annotations

import asyncio

from tests.support.bridge import bridge

from .support import Relay, alice_and_bob, listen, make_client, run, take


def test_pipelined_sends_are_accepted_and_delivered_once_in_order() -> None:
    """200 sends in flight at once: 200 receipts, and 200 deliveries in the sender's order."""

    async def scenario() -> None:
        async with alice_and_bob() as (alice, bob):
            inbox = listen(bob)
            receipts = await asyncio.gather(*(alice.send("Bob", f"m{i}") for i in range(200)))
            assert len({r.id for r in receipts}) == 200
            assert all(r.state == "accepted" and not r.duplicate for r in receipts)
            got = await take(inbox, 200)
            assert [m.body for m in got] == [f"m{i}" for i in range(200)]
            assert [m.seq for m in got] == list(range(1, 201))

    run(scenario())


def test_frames_larger_than_one_write_arrive_whole_and_in_order() -> None:
    """200 KB bodies (beyond one 64 KB write) mixed with small ones arrive intact, in order."""
    bodies = [f"{i} " + ("é" * 100_000 if i % 3 == 0 else "small") for i in range(12)]

    async def scenario() -> None:
        async with alice_and_bob() as (alice, bob):
            inbox = listen(bob)
            await asyncio.gather(*(alice.send("Bob", body) for body in bodies))
            assert [m.body for m in await take(inbox, len(bodies))] == bodies

    run(scenario())


def test_link_cut_during_a_burst_loses_nothing() -> None:
    """A receiver's link cut mid-burst: the bridge serves others, and after the reconnect
    the receiver gets every message once, in order."""

    async def scenario() -> None:
        async with (
            bridge(listen=False) as srv,
            Relay(srv.accept) as relay,
            make_client(srv, "Alice") as alice,
            make_client(relay, "Bob") as bob,
            make_client(srv, "Carol") as carol,
        ):
            inbox, carols = listen(bob), listen(carol)
            sends = asyncio.gather(*(alice.send("Bob", f"m{i}") for i in range(200)))
            first = await take(inbox, 1)
            relay.cut()
            await sends
            await alice.send("Carol", "still here")
            assert [m.body for m in await take(carols, 1)] == ["still here"]
            rest = await take(inbox, 199, timeout=10.0)
            assert [m.body for m in first + rest] == [f"m{i}" for i in range(200)]

    run(scenario())
