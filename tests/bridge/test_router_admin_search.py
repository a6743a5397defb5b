"""``admin_search`` (§3.5): an admin searches the mail of any peer, as that peer would
(the dashboard's search); anyone else is refused (pure router)."""

from __future__ import annotations

from ai_connect.bridge.answers import answer
from ai_connect.bridge.auth import new_token
from ai_connect.bridge.events import QuerySearch
from ai_connect.protocol import SearchResults, decode_server

from .helpers import START, Bridge, addr, errors

ALICE_TOKEN, ALICE = new_token("alice", now=START)
BOB_TOKEN, BOB = new_token("bob", now=START)
OPS_TOKEN, OPS = new_token("ops", ["ops"], admin=True, now=START)


def test_an_admin_searches_the_mail_of_a_peer_as_that_peer() -> None:
    """admin_search runs the store's search as the viewer: bob's mail, not the admin's."""
    bridge = Bridge(tokens=(ALICE, BOB, OPS))
    bridge.join(1, "alice", token=ALICE_TOKEN)
    bridge.join(2, "bob", token=BOB_TOKEN)
    bridge.join(3, "ops", token=OPS_TOKEN)
    bridge.send(1, "bob", "the secret plan")
    bridge.send(1, "ops", "another plan")
    bridge.settle()
    actions = bridge.frame(3, type="admin_search", rid="s", viewer="bob", query="plan", limit=10)
    (query,) = [a for a in actions if isinstance(a, QuerySearch)]
    assert (query.conn, query.rid, query.viewer, query.query) == (3, "s", addr("bob"), "plan")
    text, count = answer(bridge.store, query)
    found = decode_server(text)
    assert isinstance(found, SearchResults) and count == 1
    assert [m.body for m in found.messages] == ["the secret plan"]


def test_admin_search_is_refused_to_other_tokens_and_names_unknown_viewers() -> None:
    """A normal token gets forbidden; an admin naming nobody gets unknown_peer."""
    bridge = Bridge(tokens=(ALICE, BOB, OPS))
    bridge.join(1, "alice", token=ALICE_TOKEN)
    bridge.join(3, "ops", token=OPS_TOKEN)
    found = errors(bridge.frame(1, type="admin_search", rid="a", viewer="alice", query="x"), 1)
    assert [(e.code, e.rid) for e in found] == [("forbidden", "a")]
    found = errors(bridge.frame(3, type="admin_search", rid="b", viewer="carol", query="x"), 3)
    assert [(e.code, e.rid) for e in found] == [("unknown_peer", "b")]


def test_an_observer_searches_without_auth_as_it_reads_history() -> None:
    """Auth off, an observer (the dashboard) may admin_search, as it may admin_history."""
    bridge = Bridge()
    bridge.join(1, "alice")
    bridge.join(2, "bob")
    bridge.hello(9, "dashboard", mode="observe")
    bridge.send(1, "bob", "the plan")
    bridge.settle()
    actions = bridge.frame(9, type="admin_search", rid="s", viewer="bob", query="plan")
    (query,) = [a for a in actions if isinstance(a, QuerySearch)]
    assert (query.conn, query.viewer) == (9, addr("bob"))
