"""Privacy: a peer reads only its own conversations and mailbox, through every request.

Alice and Bob talk; Alice also broadcasts. Carol, a third peer, tries every request a
client has (history with and without a peer, search, peers, status, attach, hello as
Bob, admin requests, acks) and sees nothing of the Alice-Bob conversation.
"""

from __future__ import annotations

import time

import pytest

from ai_connect.bridge.auth import new_token
from ai_connect.client import BridgeClient
from ai_connect.errors import RequestRejected
from tests.support.inprocess import Served, bridge

from ..client.support import listen, make_client, run, take

NOW = time.time()
TOKENS = {name: new_token(name, now=NOW) for name in ("alice", "bob", "carol")}


async def converse(server: Served, *, auth: bool) -> tuple[BridgeClient, ...]:
    """Alice and Bob exchange secrets; Alice broadcasts; all three stay connected."""
    clients = []
    for name in ("alice", "bob", "carol"):
        token = TOKENS[name][0] if auth else None
        client = make_client(server.url, name, token=token, session=f"s-{name}")
        await client.connect()
        clients.append(client)
    alice, bob, carol = clients
    bob_mail = listen(bob)
    await alice.send("bob", "apple secret for bob")
    await bob.send("alice", "banana reply for alice")
    await alice.send("*", "broadcast hello everyone")
    await take(bob_mail, 2)
    return alice, bob, carol


async def assert_carol_sees_nothing_private(carol: BridgeClient) -> None:
    everything = await carol.history()
    assert [m.body for m in everything.messages] == ["broadcast hello everyone"]
    with_alice = await carol.history("alice")
    assert [m.body for m in with_alice.messages] == ["broadcast hello everyone"]
    assert (await carol.history("bob")).messages == []
    for word in ("apple", "banana", "secret", "reply"):
        assert (await carol.search(word)).messages == []
    assert [m.body for m in (await carol.search("broadcast")).messages] == [
        "broadcast hello everyone"
    ]
    status = await carol.status()
    assert (status.address, status.tip) == ("carol (proj)", 1)
    for peer in await carol.peers():
        # work: a status its hooks chose to share (docs/security.md "Work status"); none here
        shown = {"address", "name", "project", "online", "last_seen", "work"}
        assert set(peer.model_dump()) == shown and peer.work is None
    for call in (carol.admin_status(), carol.admin_history("bob")):
        with pytest.raises(RequestRejected) as caught:
            await call
        assert caught.value.code == "forbidden"


def test_without_auth_history_and_search_show_only_ones_own_conversations() -> None:
    """Auth off: Carol's history, search, peers and status reveal nothing of Alice and Bob."""

    async def scenario() -> None:
        async with bridge() as server:
            clients = await converse(server, auth=False)
            await assert_carol_sees_nothing_private(clients[2])
            for client in clients:
                await client.close()

    run(scenario())


def test_with_auth_nobody_can_take_or_attach_to_anothers_mailbox() -> None:
    """Auth on: Carol's token can neither register as Bob nor attach to Bob's address."""

    async def scenario() -> None:
        async with bridge(tokens=[record for _, record in TOKENS.values()]) as server:
            alice, bob, carol = await converse(server, auth=True)
            await assert_carol_sees_nothing_private(carol)
            carol_token = TOKENS["carol"][0]
            await bob.close()  # Bob is away: his mailbox is unattended
            await alice.send("bob", "second secret for bob")
            as_bob = make_client(server.url, "bob", token=carol_token, reconnect=False)
            attached = make_client(
                server.url, "bob", token=carol_token, attach=True, session="s-bob", reconnect=False
            )
            for thief in (as_bob, attached):
                with pytest.raises(RequestRejected) as caught:
                    await thief.connect()
                assert caught.value.code == "auth_failed"
                assert "may not register the name 'bob'" in caught.value.message
            # Bob's own token still gets all his mail back.
            async with make_client(server.url, "bob", token=TOKENS["bob"][0]) as back:
                assert back.welcome is not None and back.welcome.unread == 3
            await alice.close()
            await carol.close()

    run(scenario())


def test_without_auth_a_live_address_cannot_be_attached_by_another_session() -> None:
    """Auth off: attaching to Bob's live address needs Bob's session id (address_in_use)."""

    async def scenario() -> None:
        async with bridge() as server:
            alice, bob, carol = await converse(server, auth=False)
            thief = make_client(server.url, "bob", attach=True, session="guess", reconnect=False)
            with pytest.raises(RequestRejected) as caught:
                await thief.connect()
            assert caught.value.code == "address_in_use"
            for client in (alice, bob, carol):
                await client.close()

    run(scenario())
