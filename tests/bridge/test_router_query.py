"""Router: ``query`` connections ask as an address without becoming a peer (§2.4)."""

from __future__ import annotations

import dataclasses
from typing import Any

from ai_connect.bridge.auth import new_token
from ai_connect.bridge.core import CLOSE_AUTH
from ai_connect.bridge.events import QueryHistory, TokensChanged
from ai_connect.protocol import (
    PROTOCOL_VERSION,
    Accepted,
    ErrorCode,
    PeerList,
    Presence,
    StatusReport,
    Welcome,
)

from .helpers import START, Bridge, addr, closes, delivers, errors, frames, one, pair, persists

ALICE, BOB = addr("Alice"), addr("Bob")


def query(bridge: Bridge, conn: int, name: str, **fields: Any) -> str | None:
    """Says a query hello; returns the address of its welcome (``None`` on an error)."""
    actions = bridge.hello(conn, name, mode="query", **fields)
    welcomes = [f for f in frames(actions, conn) if isinstance(f, Welcome)]
    return welcomes[0].address if welcomes else None


def test_a_query_creates_no_peer_and_tells_nobody() -> None:
    """No peer record, nothing persisted, not online, no presence join for watchers."""
    bridge = Bridge()
    bridge.join(1, "Bob", presence=True)
    bridge.connect(2)
    actions = bridge.hello(2, "Doctor", mode="query")
    assert one(Welcome, actions, 2).address == addr("Doctor")
    assert persists(actions) == []
    assert [f for f in frames(actions, 1) if isinstance(f, Presence)] == []
    assert bridge.router.online == {BOB: 1}
    actions = bridge.frame(2, type="peers", rid="p", include_offline=True)
    assert [p.address for p in one(PeerList, actions, 2).peers] == [BOB]


def test_a_query_of_a_known_address_reports_its_mail_but_takes_none() -> None:
    """status shows the address's unread; no deliver reaches the query connection."""
    bridge = pair()
    bridge.send(2, ALICE, "one")
    bridge.settle()
    bridge.disconnect(1)
    bridge.connect(3)
    assert query(bridge, 3, "Alice") == ALICE
    actions = bridge.frame(3, type="status", rid="s")
    report = one(StatusReport, actions, 3)
    assert (report.address, report.unread, report.peers_online) == (ALICE, 1, 1)
    bridge.send(2, ALICE, "two")
    assert delivers(bridge.settle(), 3) == []


def test_a_query_may_not_send_or_ack() -> None:
    """send and ack on a query connection: forbidden, saying to connect as a peer."""
    bridge = pair()
    bridge.connect(3)
    query(bridge, 3, "Carol")
    for actions in (bridge.send(3, BOB, "hi"), bridge.ack(3, 1, rid="a")):
        (error,) = errors(actions, 3)
        assert error.code == ErrorCode.FORBIDDEN and "connect as a peer" in error.hint
    assert delivers(bridge.settle(), 2) == []


def test_history_of_a_query_is_the_view_of_its_address() -> None:
    """history asks the store as the query's address, exactly as that peer would."""
    bridge = pair()
    bridge.connect(3)
    query(bridge, 3, "Alice")
    actions = bridge.frame(3, type="history", rid="h", peer="Bob")
    (ask,) = [a for a in actions if isinstance(a, QueryHistory)]
    assert (ask.viewer, ask.peer) == (ALICE, BOB)


def test_with_auth_a_query_needs_a_token_that_owns_the_name() -> None:
    """Auth on: the token must own the name; revoking it closes the query connection."""
    token, record = new_token("alice", now=START)
    bridge = Bridge(tokens=(record,))
    bridge.connect(1)
    refused = bridge.hello(1, "Mallory", mode="query", token=token)
    assert errors(refused, 1)[0].code == ErrorCode.AUTH_FAILED
    assert query(bridge, 1, "alice", token=token) == addr("alice")
    revoked = dataclasses.replace(record, revoked=START + 1)
    actions = bridge.handle(TokensChanged((revoked,), START + 2))
    assert [c.code for c in closes(actions)] == [CLOSE_AUTH]


def test_attach_true_and_mode_attach_are_the_same() -> None:
    """mode: attach is the alias of attach: true (§2.2)."""
    bridge = Bridge()
    bridge.join(1, "Alice", session="s1")
    bridge.connect(2)
    actions = bridge.hello(2, "Alice", session="s1", mode="attach")
    assert one(Welcome, actions, 2).address == ALICE
    assert bridge.router.online == {ALICE: 1}


def test_refused_hellos_and_refused_queries_store_no_peer() -> None:
    """A refused hello, and a query connection refused admin_status, persist nothing; a
    broadcast afterwards stores mail only for the real peers (issue 11 item 14)."""
    bridge = Bridge()
    refused = bridge.hello(1, "Old", protocol=PROTOCOL_VERSION + 1)
    assert errors(refused, 1)[0].code == ErrorCode.PROTOCOL_VERSION
    assert persists(refused) == []
    bridge.connect(2)
    assert query(bridge, 2, "Asker") == addr("Asker")
    asked = bridge.frame(2, type="admin_status", rid="a")
    assert errors(asked, 2)[0].code == ErrorCode.FORBIDDEN and persists(asked) == []
    bridge.join(3, "Bob")
    bridge.join(4, "Carol")
    bridge.disconnect(4)
    bridge.send(3, "*", "to everyone")
    accepted = one(Accepted, bridge.settle(), 3)
    assert accepted.recipients == [addr("Carol")]
