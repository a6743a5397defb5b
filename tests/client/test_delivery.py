"""BridgeClient sending and receiving on a live link: named errors, cid dedup, listeners,
wait() and acks."""

from __future__ import annotations

import pytest

from ai_connect.errors import UnknownPeer
from tests.support.bridge import bridge

from .support import alice_and_bob, listen, make_client, run, take


def test_unknown_peer_lists_candidates() -> None:
    """A send to nobody raises UnknownPeer with the near matches; nothing is stored."""

    async def scenario() -> None:
        async with (
            bridge(listen=False) as srv,
            make_client(srv, "Alice") as alice,
            make_client(srv, "Bob"),
        ):
            with pytest.raises(UnknownPeer) as info:
                await alice.send("Bobby", "hello")
            assert info.value.code == "unknown_peer"
            assert "Bob (proj)" in info.value.candidates
            assert "peers" in str(info.value)  # says which call lists the peers
            assert (await alice.history()).messages == []

    run(scenario())


def test_ambiguous_peer_lists_every_match() -> None:
    """A bare name carried by two peers raises UnknownPeer listing both addresses."""

    async def scenario() -> None:
        async with bridge(listen=False) as srv:
            alice = make_client(srv, "Alice")
            bob_here, bob_there = make_client(srv, "Bob"), make_client(srv, "Bob", "other")
            async with alice, bob_here, bob_there:
                with pytest.raises(UnknownPeer) as info:
                    await alice.send("Bob", "which one?")
                assert info.value.code == "ambiguous_peer"
                assert info.value.candidates == ("Bob (other)", "Bob (proj)")
                receipt = await alice.send("Bob (other)", "this one")
                assert receipt.recipients == ("Bob (other)",)

    run(scenario())


def test_resend_with_same_cid_is_stored_once() -> None:
    """A resend with the same cid gets the same id with duplicate=True; stored and shown once."""

    async def scenario() -> None:
        async with alice_and_bob() as (alice, bob):
            inbox = listen(bob)
            first = await alice.send("Bob", "only once", cid="c-1")
            again = await alice.send("Bob", "only once", cid="c-1")
            assert first.state == again.state == "accepted"
            assert again.id == first.id and again.duplicate and not first.duplicate
            await alice.send("Bob", "marker")
            assert [m.body for m in await take(inbox, 2)] == ["only once", "marker"]
            history = await bob.history("Alice")
            assert [m.body for m in history.messages] == ["only once", "marker"]

    run(scenario())


def test_receipt_tells_online_from_offline() -> None:
    """An accepted receipt lists the recipients and which of them were online."""

    async def scenario() -> None:
        async with bridge(listen=False) as srv:
            async with make_client(srv, "Bob"):
                pass
            async with make_client(srv, "Alice") as alice, make_client(srv, "Carol"):
                receipt = await alice.send("*", "to everyone")
                assert receipt.state == "accepted" and receipt.id
                assert receipt.recipients == ("Bob (proj)", "Carol (proj)")
                assert receipt.online == ("Carol (proj)",)
                assert receipt.offline == ("Bob (proj)",)

    run(scenario())


def test_listeners_get_each_message_once_in_order() -> None:
    """Every listener gets each new message once, in the sender's order, with its fields."""

    async def scenario() -> None:
        async with alice_and_bob() as (alice, bob):
            first, second = listen(bob), listen(bob)
            for i in range(5):
                await alice.send("Bob", f"m{i}", context={"i": i}, thread="t")
            for queue in (first, second):
                got = await take(queue, 5)
                assert [m.body for m in got] == [f"m{i}" for i in range(5)]
                assert [m.seq for m in got] == [1, 2, 3, 4, 5]
                assert {m.sender for m in got} == {"Alice (proj)"}
                assert [m.context for m in got] == [{"i": i} for i in range(5)]
                assert queue.empty()
            assert [m.body for m in bob.unread()] == [f"m{i}" for i in range(5)]

    run(scenario())


def test_failing_listener_does_not_block_delivery() -> None:
    """A listener that raises does not keep the message from the inbox or other listeners."""

    async def scenario() -> None:
        async with alice_and_bob() as (alice, bob):

            def broken(item: object) -> None:
                raise RuntimeError("listener bug")

            bob.add_listener(broken)
            inbox = listen(bob)
            await alice.send("Bob", "still arrives")
            assert [m.body for m in await take(inbox)] == ["still arrives"]
            assert [m.body for m in bob.unread()] == ["still arrives"]

    run(scenario())


def test_wait_filters_by_sender() -> None:
    """wait(sender=...) returns only that sender's messages and leaves the rest unread."""

    async def scenario() -> None:
        async with bridge(listen=False) as srv:
            alice, bob, carol = (make_client(srv, n) for n in ("Alice", "Bob", "Carol"))
            async with alice, bob, carol:
                inbox = listen(bob)
                await alice.send("Bob", "from alice")
                await take(inbox)
                assert await bob.wait(0.05, sender="Carol (proj)") == []
                await carol.send("Bob", "from carol")
                got = await bob.wait(5, sender="Carol (proj)")
                assert [m.body for m in got] == ["from carol"]
                assert [m.body for m in await bob.wait(5)] == ["from alice", "from carol"]
                assert [m.body for m in bob.unread("Alice (proj)")] == ["from alice"]

    run(scenario())


def test_wait_returns_empty_on_timeout() -> None:
    """wait() with nothing to read returns [] once the timeout passes."""

    async def scenario() -> None:
        async with bridge(listen=False) as srv, make_client(srv, "Bob") as bob:
            assert await bob.wait(0.05) == []
            assert bob.connected

    run(scenario())


def test_acked_messages_are_not_delivered_to_a_new_session() -> None:
    """After ack(wait=True) a fresh client with the same name and project gets no redelivery."""

    async def scenario() -> None:
        async with bridge(listen=False) as srv, make_client(srv, "Alice") as alice:
            async with make_client(srv, "Bob") as bob:
                inbox = listen(bob)
                await alice.send("Bob", "one")
                await alice.send("Bob", "two")
                got = await take(inbox, 2)
                await bob.ack(got, wait=True)
                assert bob.unread() == []
                status = await bob.status()
                assert (status.acked, status.unread) == (2, 0)
            async with make_client(srv, "Bob") as fresh:
                assert fresh.address == "Bob (proj)"
                assert fresh.welcome is not None and fresh.welcome.unread == 0
                inbox = listen(fresh)
                await alice.send("Bob", "three")
                assert [m.body for m in await take(inbox)] == ["three"]
                assert [m.body for m in fresh.unread()] == ["three"]

    run(scenario())


def test_unacked_messages_come_back_to_a_new_session() -> None:
    """Messages received but never acked are delivered to the next session of that address."""

    async def scenario() -> None:
        async with bridge(listen=False) as srv, make_client(srv, "Alice") as alice:
            async with make_client(srv, "Bob") as bob:
                inbox = listen(bob)
                await alice.send("Bob", "one")
                await take(inbox)
            async with make_client(srv, "Bob") as fresh:
                assert fresh.welcome is not None and fresh.welcome.unread == 1
                assert [m.body for m in await fresh.wait(5)] == ["one"]

    run(scenario())
