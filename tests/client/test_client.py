"""BridgeClient against a real BridgeServer in the same event loop, over a socketpair:
connect, requests matched by rid, named timeouts and errors, close, and independence of
instances."""

from __future__ import annotations

import asyncio

import pytest

import ai_connect.client.client as client_module
from ai_connect.client import BridgeClient, LinkState
from ai_connect.errors import (
    LocalProtocolError,
    NotConnected,
    RequestRejected,
    RequestTimeout,
)
from ai_connect.protocol import HistoryPage, SearchResults, StatusReport
from tests.support.bridge import FakeBridge, bridge

from .support import listen, make_client, refused_url, run, take, tcp_ends


def test_connect_registers_and_sets_state() -> None:
    """connect() sends hello; the welcome sets the address and state CONNECTED; close() CLOSED.

    The one client test on a real port: it covers the default transport (TCP)."""

    async def scenario() -> None:
        async with bridge() as srv:
            alice = make_client(srv.url, "Alice")
            before = alice.state
            assert before is LinkState.CLOSED and not alice.connected
            async with alice:
                assert alice.state is LinkState.CONNECTED and alice.connected
                assert alice.address == "Alice (proj)"
                assert alice.welcome is not None and alice.welcome.unread == 0
                assert alice.last_error is None
                assert (await alice.status()).address == "Alice (proj)"
                assert srv.router.online.keys() == {"Alice (proj)"}
            before = alice.state
            assert before is LinkState.CLOSED and not alice.connected

    run(scenario())


def test_connect_to_closed_port_names_url_and_remedy() -> None:
    """A refused connection raises NotConnected naming the URL and how to start a bridge."""

    async def scenario() -> None:
        with refused_url() as url:
            alice = make_client(url, "Alice")
            with pytest.raises(NotConnected) as info:
                await alice.connect()
            text = str(info.value)
            assert url in text and "ai-connect bridge" in text and "refused" in text.lower()
            assert alice.state is LinkState.CLOSED
            assert alice.last_error is not None

    run(scenario())


def test_invalid_name_fails_locally_with_remedy() -> None:
    """An invalid name raises LocalProtocolError saying how to pick another; nothing connects."""

    async def scenario() -> None:
        async with bridge(listen=False) as srv:
            client = make_client(srv, "Bad(name)")
            with pytest.raises(LocalProtocolError) as info:
                await client.connect()
            assert "'Bad(name)'" in str(info.value) and "--name" in str(info.value)
            assert client.state is LinkState.CLOSED
            assert srv.router.online == {}

    run(scenario())


def test_invalid_name_in_background_stops_without_retrying() -> None:
    """connect(wait=False) with an invalid name ends CLOSED with last_error, not retrying."""

    async def scenario() -> None:
        async with FakeBridge(listen=False) as fake:
            client = make_client(fake, "Bad*name")
            await client.connect(wait=False)
            await client.wait_state(LinkState.CLOSED, 5)
            assert client.last_error is not None and "--name" in client.last_error
            assert fake.hellos == 0
            await client.close()

    run(scenario())


def test_refused_hello_raises_request_rejected() -> None:
    """A hello answered with an error raises RequestRejected with its code and hint."""

    async def scenario() -> None:
        async with FakeBridge(on_hello="refuse", listen=False) as fake:
            client = make_client(fake, "Alice")
            with pytest.raises(RequestRejected) as info:
                await client.connect()
            assert info.value.code == "auth_failed"
            assert "--token" in info.value.hint and "--token" in str(info.value)
            assert client.state is LinkState.CLOSED

    run(scenario())


def test_refused_hello_in_background_stops_retrying() -> None:
    """A refusal while (re)connecting in the background ends CLOSED with last_error set."""

    async def scenario() -> None:
        async with FakeBridge(on_hello="refuse", listen=False) as fake:
            client = make_client(fake, "Alice")
            await client.connect(wait=False)
            await client.wait_state(LinkState.CLOSED, 5)
            assert client.last_error is not None and "token refused" in client.last_error
            assert fake.hellos == 1
            await client.close()

    run(scenario())


def test_unanswered_hello_raises_request_timeout() -> None:
    """A bridge that accepts the WebSocket but never answers hello: RequestTimeout, CLOSED."""

    async def scenario() -> None:
        async with FakeBridge(on_hello="ignore", listen=False) as fake:
            client = make_client(fake, "Alice", connect_timeout=0.3)
            with pytest.raises(RequestTimeout, match="hello"):
                await client.connect()
            assert client.state is LinkState.CLOSED
            assert len(client._pending) == 0

    run(scenario())


def test_unanswered_request_times_out_and_is_forgotten() -> None:
    """An unanswered request raises RequestTimeout naming it; its pending entry is removed."""

    async def scenario() -> None:
        async with FakeBridge(listen=False) as fake:
            client = make_client(fake, "Alice", request_timeout=0.3)
            async with client:
                with pytest.raises(RequestTimeout, match=r"peers.*0\.3 s"):
                    await client.peers()
                assert len(client._pending) == 0
                assert client.connected  # a slow answer is not a dead link

    run(scenario())


def test_unconfirmed_send_times_out_saying_resend_is_safe() -> None:
    """A send never confirmed raises RequestTimeout naming the cid to resend with."""

    async def scenario() -> None:
        async with FakeBridge(listen=False) as fake, make_client(fake, "Alice") as client:
            with pytest.raises(RequestTimeout, match="cid=c-7"):
                await client.send("Bob", "hello", cid="c-7", timeout=0.3)
            assert "c-7" not in client._outbox

    run(scenario())


def test_concurrent_requests_get_their_own_replies() -> None:
    """Many requests in flight at once each get the reply with their rid."""

    async def scenario() -> None:
        async with bridge(listen=False) as srv:
            alice, bob, carol = (make_client(srv, n) for n in ("Alice", "Bob", "Carol"))
            async with alice, bob, carol:
                await alice.send("Bob", "apples for bob")
                await alice.send("Carol", "pears for carol")
                requests = []
                for _ in range(5):
                    requests += [
                        alice.history("Bob"),
                        alice.peers(),
                        alice.search("pears"),
                        alice.history("Carol"),
                        bob.status(),
                        alice.search("apples"),
                        alice.status(),
                    ]
                replies = await asyncio.gather(*requests)
                for i in range(0, len(replies), 7):
                    to_bob, peers, pears, to_carol, bob_status, apples, status = replies[i : i + 7]
                    assert isinstance(to_bob, HistoryPage) and isinstance(to_carol, HistoryPage)
                    assert [m.body for m in to_bob.messages] == ["apples for bob"]
                    assert [m.body for m in to_carol.messages] == ["pears for carol"]
                    assert isinstance(pears, SearchResults) and isinstance(apples, SearchResults)
                    assert [m.body for m in pears.messages] == ["pears for carol"]
                    assert [m.body for m in apples.messages] == ["apples for bob"]
                    assert isinstance(peers, list)
                    assert {p.address for p in peers} == {
                        "Alice (proj)",
                        "Bob (proj)",
                        "Carol (proj)",
                    }
                    assert isinstance(status, StatusReport) and status.address == "Alice (proj)"
                    assert isinstance(bob_status, StatusReport)
                    assert bob_status.address == "Bob (proj)"
                assert len(alice._pending) == 0 and len(bob._pending) == 0

    run(scenario())


def test_close_fails_pending_requests() -> None:
    """close() fails a request in flight with NotConnected and leaves the client CLOSED."""

    async def scenario() -> None:
        async with FakeBridge(listen=False) as fake:
            client = make_client(fake, "Alice", request_timeout=30)
            await client.connect()
            pending = asyncio.create_task(client.peers())
            await asyncio.wait_for(fake.frames.get(), 5)  # the request reached the bridge
            await client.close()
            with pytest.raises(NotConnected):
                await pending
            assert client.state is LinkState.CLOSED
            assert len(client._pending) == 0
            with pytest.raises(NotConnected, match="ai-connect bridge"):
                await client.status()

    run(scenario())


def test_requests_while_closed_raise_not_connected() -> None:
    """Requests and sends on a client that never connected raise NotConnected at once."""

    async def scenario() -> None:
        client = BridgeClient("ws://127.0.0.1:9", "Alice", "proj")
        for call in (client.peers(), client.status(), client.history(), client.search("x")):
            with pytest.raises(NotConnected, match=r"ws://127\.0\.0\.1:9"):
                await call
        with pytest.raises(NotConnected):
            await client.send("Bob", "hello")
        assert client.state is LinkState.CLOSED

    run(scenario())


def test_two_clients_share_no_state() -> None:
    """Two BridgeClient instances in one process keep separate addresses, inboxes, links."""

    async def scenario() -> None:
        assert not [v for v in vars(client_module).values() if isinstance(v, BridgeClient)]
        async with bridge(listen=False) as srv:
            first, second = make_client(srv, "Alice"), make_client(srv, "Alice")
            bob = make_client(srv, "Bob")
            async with first, second, bob:
                assert first.address == "Alice (proj)" and second.address == "Alice#2 (proj)"
                assert first.session != second.session and first.inbox is not second.inbox
                to_first, to_second = listen(first), listen(second)
                await bob.send("Alice#2 (proj)", "for the second one")
                [got] = await take(to_second)
                assert got.body == "for the second one" and got.to == "Alice#2 (proj)"
                assert first.unread() == [] and to_first.empty()
                await first.close()
                assert first.state is LinkState.CLOSED and second.connected
                assert (await second.status()).address == "Alice#2 (proj)"

    run(scenario())


def test_both_ends_of_a_bridge_connection_have_nagle_off() -> None:
    """The bridge's accepted socket and the client's have TCP_NODELAY: small frames
    (an ack, an accepted) never wait for the other side's delayed ACK."""

    async def scenario() -> None:
        async with bridge() as srv, make_client(srv.url, "Alice") as alice:
            await alice.status()
            assert tcp_ends(srv.port) == [("client", True), ("server", True)]

    run(scenario())
