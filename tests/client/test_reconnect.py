"""BridgeClient across outages: reconnect, connected state, the outbox, redelivery and the
resume cursor. Links are dropped by restarting the bridge (same store) or by a
relay that can cut or freeze them."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Awaitable, Callable

import pytest

from ai_connect.client import BridgeClient, LinkState
from ai_connect.errors import NotConnected, RequestTimeout
from tests.support.bridge import FakeBridge, RestartableBridge, bridge

from .support import CountingInbox, Relay, accepting, listen, make_client, run, take

RECONNECTING, CONNECTED, CLOSED = LinkState.RECONNECTING, LinkState.CONNECTED, LinkState.CLOSED


async def reconnected(client: BridgeClient, drop: Callable[[], Awaitable[None]]) -> None:
    """Runs ``drop`` and waits until ``client`` has noticed and is connected again."""
    noticed = asyncio.create_task(client.wait_state(RECONNECTING, 5))
    await drop()
    await noticed
    await client.wait_connected(5)


def test_bridge_restart_reconnects() -> None:
    """A bridge restart: RECONNECTING with last_error at once, then CONNECTED, same address."""

    async def scenario() -> None:
        async with RestartableBridge(listen=False) as live, make_client(live, "Alice") as alice:
            loop = asyncio.get_running_loop()
            started = loop.time()
            await live.stop()
            await alice.wait_state(RECONNECTING, 2)
            assert loop.time() - started < 2
            assert not alice.connected and alice.last_error is not None
            assert "1001" in alice.last_error or "refused" in alice.last_error.lower()
            with pytest.raises(NotConnected, match=alice.url):
                await alice.peers()
            await live.start()
            await alice.wait_connected(5)
            assert alice.state is CONNECTED and alice.last_error is None
            assert alice.address == "Alice (proj)"
            assert (await alice.status()).address == "Alice (proj)"

    run(scenario())


def test_client_started_before_bridge_connects_when_it_appears() -> None:
    """connect(wait=False) keeps trying until the bridge listens, then registers."""

    async def scenario() -> None:
        async with RestartableBridge(listen=False) as live:
            await live.stop()
            alice = make_client(live, "Alice")
            await alice.connect(wait=False)
            await alice.wait_state(RECONNECTING, 5)
            await live.start()
            await alice.wait_connected(5)
            assert alice.address == "Alice (proj)"
            await alice.close()
            assert alice.state is CLOSED

    run(scenario())


def test_close_while_reconnecting_ends_closed() -> None:
    """close() during an outage stops reconnecting and leaves the client CLOSED."""

    async def scenario() -> None:
        async with RestartableBridge(listen=False) as live:
            alice = make_client(live, "Alice")
            await alice.connect()
            await live.stop()
            await alice.wait_state(RECONNECTING, 5)
            await alice.close()
            assert alice.state is CLOSED
            with pytest.raises(RequestTimeout, match="connected"):
                await alice.wait_state(CONNECTED, 0.05)

    run(scenario())


def test_pending_request_fails_when_link_drops() -> None:
    """A request in flight when the link closes fails with NotConnected, not a timeout."""

    async def scenario() -> None:
        async with FakeBridge(listen=False) as fake:
            client = make_client(fake, "Alice", request_timeout=30)
            await client.connect()
            pending = asyncio.create_task(client.status())
            await asyncio.wait_for(fake.frames.get(), 5)  # the request reached the bridge
            await fake.stop()
            with pytest.raises(NotConnected, match=client.url):
                await pending
            await client.wait_state(RECONNECTING, 5)
            assert len(client._pending) == 0
            await client.close()

    run(scenario())


def test_link_lost_during_hello_fails_at_once() -> None:
    """A link that dies before the welcome raises NotConnected at once, not after a timeout."""

    async def scenario() -> None:
        async with FakeBridge(on_hello="drop", listen=False) as fake:
            client = make_client(fake, "Alice", connect_timeout=10)
            async with asyncio.timeout(2):
                with pytest.raises(NotConnected, match=client.url):
                    await client.connect()
            assert client.state is CLOSED

    run(scenario())


def test_normal_close_is_noticed_promptly() -> None:
    """BridgeServer.close() is noticed within a second, with its close code in last_error."""

    async def scenario() -> None:
        async with RestartableBridge(listen=False) as live:
            # No retry during this test, so last_error keeps the close, not a refusal.
            alice = make_client(live, "Alice", reconnect_delays=lambda: itertools.repeat(60))
            await alice.connect()
            loop = asyncio.get_running_loop()
            started = loop.time()
            await live.stop()
            await alice.wait_state(RECONNECTING, 1)
            assert loop.time() - started < 1
            assert alice.last_error is not None and "1001" in alice.last_error
            assert not alice.connected
            await alice.close()
            assert alice.state is CLOSED

    run(scenario())


def test_dead_link_is_noticed_within_seconds() -> None:
    """A bridge that stops answering (frozen link) is noticed by keepalive, then reconnected."""

    async def scenario() -> None:
        async with bridge(listen=False) as srv, Relay(srv.accept) as relay:
            alice = make_client(relay, "Alice", keepalive_s=0.3)
            async with alice:
                loop = asyncio.get_running_loop()
                relay.freeze()
                started = loop.time()
                await alice.wait_state(RECONNECTING, 5)
                assert loop.time() - started < 3
                assert alice.last_error is not None
                relay.cut()
                await alice.wait_connected(5)
                assert (await alice.status()).address == "Alice (proj)"

    run(scenario())


def test_queued_sends_during_outage_are_delivered_once_after_reconnect() -> None:
    """send(queue=True) in an outage returns 'queued'; after reconnect each arrives once."""

    async def scenario() -> None:
        async with RestartableBridge(listen=False) as live:
            alice, bob = make_client(live, "Alice"), make_client(live, "Bob")
            async with alice, bob:
                inbox = listen(bob)
                await live.stop()
                await alice.wait_state(RECONNECTING, 5)
                with pytest.raises(NotConnected):
                    await alice.send("Bob", "not queued")
                receipts = [await alice.send("Bob", f"queued {i}", queue=True) for i in range(3)]
                assert [r.state for r in receipts] == ["queued"] * 3
                assert all(r.id is None and r.cid for r in receipts)
                await live.start()
                await alice.wait_connected(5)
                got = await take(inbox, 3)
                assert [m.body for m in got] == ["queued 0", "queued 1", "queued 2"]
                await alice.send("Bob", "marker")
                assert [m.body for m in await take(inbox)] == ["marker"]
                history = await bob.history("Alice")
                assert [m.body for m in history.messages] == [
                    "queued 0",
                    "queued 1",
                    "queued 2",
                    "marker",
                ]

    run(scenario())


def test_resend_after_reconnect_is_stored_once() -> None:
    """A send resent with the same cid after a bridge restart is a duplicate, stored once."""

    async def scenario() -> None:
        async with RestartableBridge(listen=False) as live:
            alice, bob = make_client(live, "Alice"), make_client(live, "Bob")
            async with alice, bob:
                first = await alice.send("Bob", "once", cid="c-1")
                await reconnected(alice, live.restart)
                again = await alice.send("Bob", "once", cid="c-1")
                assert again.duplicate and again.id == first.id
                await bob.wait_connected(5)
                history = await bob.history("Alice")
                assert [m.id for m in history.messages] == [first.id]

    run(scenario())


def test_send_whose_accepted_was_lost_is_resent_and_stored_once() -> None:
    """A send stored by the bridge whose 'accepted' was lost is resent after reconnect: once."""

    async def scenario() -> None:
        async with bridge(listen=False) as srv, Relay(srv.accept) as relay:
            alice = make_client(relay, "Alice", request_timeout=10)
            async with alice, make_client(srv, "Bob") as bob:
                inbox = listen(bob)
                relay.freeze(up=False, down=True)  # the bridge's answers get lost
                sending = asyncio.create_task(alice.send("Bob", "hello once", cid="c-1"))
                [stored] = await take(inbox)  # the bridge committed and delivered it
                relay.cut()
                receipt = await sending
                assert receipt.state == "accepted"
                assert receipt.duplicate and receipt.id == stored.id
                await alice.send("Bob", "marker")
                assert [m.body for m in await take(inbox)] == ["marker"]
                history = await bob.history("Alice")
                assert [m.body for m in history.messages] == ["hello once", "marker"]

    run(scenario())


@pytest.mark.parametrize("how", ["cut", "restart"])
def test_unacked_messages_are_redelivered_and_shown_once(how: str) -> None:
    """Unacked messages come again after reconnect; the inbox shows each one once."""

    async def scenario() -> None:
        async with RestartableBridge(listen=False) as live, Relay(accepting(live)) as relay:
            bob = make_client(relay, "Bob")
            bob.inbox = counting = CountingInbox()
            async with make_client(live, "Alice") as alice, bob:
                inbox = listen(bob)
                await alice.send("Bob", "one")
                await alice.send("Bob", "two")
                assert [m.body for m in await take(inbox, 2)] == ["one", "two"]

                async def cut() -> None:
                    relay.cut()

                await reconnected(bob, cut if how == "cut" else live.restart)
                assert bob.welcome is not None and bob.welcome.unread == 2
                await alice.wait_connected(5)
                await alice.send("Bob", "three")
                # Per-sender order: once "three" is here, the redeliveries were handled.
                assert [m.body for m in await take(inbox)] == ["three"]
                assert counting.offered == [1, 2, 1, 2, 3]
                unread = bob.unread()
                assert [m.body for m in unread] == ["one", "two", "three"]
                await bob.ack(unread, wait=True)
                status = await bob.status()
                assert (status.acked, status.unread) == (3, 0)

    run(scenario())


def test_handled_messages_whose_ack_was_lost_are_not_shown_again() -> None:
    """ack(wait=False) lost with the link: the resume cursor of the next hello stops redelivery."""

    async def scenario() -> None:
        async with bridge(listen=False) as srv, Relay(srv.accept) as relay:
            bob = make_client(relay, "Bob")
            bob.inbox = counting = CountingInbox()
            async with make_client(srv, "Alice") as alice, bob:
                inbox = listen(bob)
                await alice.send("Bob", "one")
                await alice.send("Bob", "two")
                got = await take(inbox, 2)
                relay.freeze(up=True, down=False)  # bob's ack never reaches the bridge
                await bob.ack(got, wait=False)

                async def cut() -> None:
                    relay.cut()

                await reconnected(bob, cut)
                assert bob.welcome is not None
                assert (bob.welcome.acked, bob.welcome.unread) == (2, 0)
                await alice.send("Bob", "three")
                assert [m.body for m in await take(inbox)] == ["three"]
                assert counting.offered == [1, 2, 3]
                assert [m.body for m in bob.unread()] == ["three"]
                status = await bob.status()
                assert (status.acked, status.unread) == (2, 1)

    run(scenario())


def test_a_client_the_operator_forgot_does_not_come_back() -> None:
    """admin_forget closes the session with 4002: the client stops rather than register
    the address anew, and says why."""

    async def scenario() -> None:
        async with bridge(listen=False) as server:
            bob, ops = make_client(server, "bob"), make_client(server, "ops")
            await bob.connect()
            await ops.connect()
            assert (await ops.admin_forget("bob")).address == "bob (proj)"
            await bob.wait_state(LinkState.CLOSED, 5)
            assert "4002" in (bob.last_error or "") and "operator" in (bob.last_error or "")
            assert "bob (proj)" not in server.router.online
            await ops.close()
            await bob.close()

    run(scenario())
