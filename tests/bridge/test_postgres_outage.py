"""A bridge on PostgreSQL while the database is away (issue 14, item 5): ``send`` gets a
clear error, never a false ``accepted``; the peers stay connected; once PostgreSQL is
back the bridge works again by itself."""

from __future__ import annotations

import pytest

from ai_connect.bridge.store.postgres import PostgresStore
from ai_connect.errors import RequestRejected
from tests.client.support import listen, make_client, run, take
from tests.pg import PgServer
from tests.support.bridge import bridge


def test_send_is_refused_during_an_outage_and_works_after(own_pg_server: PgServer) -> None:
    """During the outage a send raises saying nothing was accepted and the links stay up;
    after it the same clients send and receive, a resend of the refused cid once."""
    store = PostgresStore(own_pg_server.new_database())

    async def scenario() -> None:
        async with bridge(store, listen=False) as server:
            alice, bob = make_client(server, "alice"), make_client(server, "bob")
            async with alice, bob:
                inbox = listen(bob)
                assert bob.address is not None
                await alice.send(bob.address, "before")
                assert [m.body for m in await take(inbox)] == ["before"]
                own_pg_server.stop()
                with pytest.raises(RequestRejected) as refused:
                    await alice.send(bob.address, "during", cid="c-during")
                text = str(refused.value)
                assert "PostgreSQL" in text and "nothing was accepted" in text, text
                assert alice.connected and bob.connected
                own_pg_server.start()
                receipt = await alice.send(bob.address, "during", cid="c-during")
                assert receipt.state == "accepted" and not receipt.duplicate
                await alice.send(bob.address, "after")
                assert [m.body for m in await take(inbox, 2)] == ["during", "after"]
                assert inbox.empty()  # the refused send was never delivered

    run(scenario(), timeout=60)
