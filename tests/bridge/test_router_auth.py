"""The router with auth on: tokens, name ownership, revocation, admin requests (pure)."""

from __future__ import annotations

import dataclasses

from ai_connect.bridge.auth import new_token
from ai_connect.bridge.core import CLOSE_AUTH
from ai_connect.bridge.events import Action, QueryHistory, TokensChanged
from ai_connect.bridge.store.base import TokenRecord
from ai_connect.protocol import BridgeReport, Error, Limits, Presence, Welcome

from .helpers import START, Bridge, addr, closes, errors, frames, one

ALICE_TOKEN, ALICE = new_token("alice", now=START)
BOB_TOKEN, BOB = new_token("bob", now=START)
OPS_TOKEN, OPS = new_token("ops", ["ops"], admin=True, now=START)


def secured(*records: TokenRecord) -> Bridge:
    """A bridge whose store holds ``records`` (default: alice, bob and the admin ops)."""
    return Bridge(tokens=records or (ALICE, BOB, OPS))


def auth_error(actions: list[Action], conn: int) -> Error:
    """The one auth_failed error sent to ``conn``."""
    found = errors(actions, conn)
    assert len(found) == 1 and found[0].code == "auth_failed", found
    return found[0]


def test_a_hello_without_token_is_refused_and_may_try_again() -> None:
    """Auth on: no token gets auth_failed; the connection stays and can hello with one."""
    bridge = secured()
    error = auth_error(bridge.hello(1, "alice"), 1)
    assert "requires an auth token" in error.message and error.rid == "h"
    assert bridge.router.address_of(1) is None
    actions = bridge.hello(1, "alice", token=ALICE_TOKEN)
    assert one(Welcome, actions, 1).address == addr("alice")


def test_a_token_registers_only_the_names_it_owns() -> None:
    """Bob's token cannot register alice, directly or by attaching: no impersonation."""
    bridge = secured()
    bridge.join(1, "alice", token=ALICE_TOKEN, session="s1")
    error = auth_error(bridge.hello(2, "alice", token=BOB_TOKEN), 2)
    assert "may not register the name 'alice'" in error.message
    error = auth_error(bridge.hello(3, "alice", token=BOB_TOKEN, attach=True, session="s1"), 3)
    assert "may not register" in error.message
    assert bridge.router.online == {addr("alice"): 1}


def test_an_owned_name_includes_its_numbered_variants() -> None:
    """A second session of alice's token gets alice#2: owned, like alice."""
    bridge = secured()
    bridge.join(1, "alice", token=ALICE_TOKEN, session="s1")
    assert bridge.join(2, "alice", token=ALICE_TOKEN, session="s2") == addr("alice#2")


def test_wrong_revoked_and_expired_tokens_are_refused_distinctly() -> None:
    """Each refusal names its cause; a wrong token learns nothing about other tokens."""
    late_token, late = new_token("late", now=START, expires=START + 1)
    old_token, old = new_token("old", now=START)
    bridge = secured(ALICE, dataclasses.replace(old, revoked=START), late)
    bridge.now = START + 2
    wrong = auth_error(bridge.hello(1, "alice", token=ALICE_TOKEN[:-2] + "xx"), 1)
    revoked = auth_error(bridge.hello(2, "old", token=old_token), 2)
    expired = auth_error(bridge.hello(3, "late", token=late_token), 3)
    assert "not valid" in wrong.message and ALICE.id not in wrong.message
    assert "revoked" in revoked.message and "expired" in expired.message


def test_revocation_closes_the_tokens_live_connections() -> None:
    """TokensChanged with a revoked token closes its owner and attached links (4001)."""
    bridge = secured()
    bridge.join(1, "alice", token=ALICE_TOKEN, session="s1")
    bridge.join(2, "alice", token=ALICE_TOKEN, session="s1", attach=True)
    bridge.join(3, "bob", token=BOB_TOKEN, presence=True)
    revoked = (dataclasses.replace(ALICE, revoked=START + 1), BOB, OPS)
    actions = bridge.handle(TokensChanged(revoked, START + 1))
    assert sorted((c.conn, c.code) for c in closes(actions)) == [(1, CLOSE_AUTH), (2, CLOSE_AUTH)]
    assert "revoked" in closes(actions)[0].reason
    assert one(Presence, actions, 3).event == "leave"
    assert bridge.router.online == {addr("bob"): 3}
    assert one(Error, actions, 1).code == "auth_failed"


def test_turning_auth_on_closes_anonymous_connections() -> None:
    """The first token created while the bridge runs closes the links that have none."""
    bridge = Bridge()
    bridge.join(1, "alice")
    actions = bridge.handle(TokensChanged((ALICE,), START + 1))
    assert [(c.conn, c.reason) for c in closes(actions)] == [(1, "auth token required")]


def test_expiry_closes_a_live_connection_at_the_next_tick() -> None:
    """A token that expires while in use closes its connections on the next Tick."""
    token, record = new_token("alice", now=START, expires=START + 30)
    bridge = secured(record)
    bridge.join(1, "alice", token=token)
    assert closes(bridge.tick(START + 29)) == []
    assert [c.reason for c in closes(bridge.tick(START + 30))] == ["auth token expired"]


def test_admin_requests_are_refused_for_normal_tokens_and_without_auth() -> None:
    """admin_status and admin_history need an admin token: forbidden otherwise."""
    bridge = secured()
    bridge.join(1, "alice", token=ALICE_TOKEN)
    for kind in ("admin_status", "admin_history"):
        found = errors(bridge.frame(1, type=kind, rid="a", viewer="alice"), 1)
        assert [(e.code, e.rid) for e in found] == [("forbidden", "a")]
        assert "admin tokens only" in found[0].message
    open_bridge = Bridge()
    open_bridge.join(1, "alice")
    found = errors(open_bridge.frame(1, type="admin_status", rid="a"), 1)
    assert [e.code for e in found] == ["forbidden"]


def test_an_admin_token_sees_every_peer_and_any_history() -> None:
    """admin_status lists peers with cursors and tokens; admin_history queries as the viewer."""
    bridge = secured()
    bridge.join(1, "alice", token=ALICE_TOKEN)
    bridge.join(2, "bob", token=BOB_TOKEN)
    bridge.join(3, "ops", token=OPS_TOKEN)
    bridge.send(1, "bob", "secret plan")
    bridge.settle()
    report = one(BridgeReport, bridge.frame(3, type="admin_status", rid="r"), 3)
    by_address = {p.address: p for p in report.peers}
    assert by_address[addr("bob")].tip == 1 and by_address[addr("bob")].token == "bob"
    assert report.auth and report.connections == 3
    actions = bridge.frame(3, type="admin_history", rid="h", viewer="bob", peer="alice")
    (query,) = [a for a in actions if isinstance(a, QueryHistory)]
    assert (query.viewer, query.peer, query.conn) == (addr("bob"), addr("alice"), 3)


def test_a_token_has_a_connection_limit() -> None:
    """Beyond max_conns_per_token live connections, hello gets too_many_connections."""
    bridge = Bridge(tokens=(ALICE,), limits=Limits(max_conns_per_token=2))
    bridge.join(1, "alice", token=ALICE_TOKEN, session="a")
    bridge.join(2, "alice", token=ALICE_TOKEN, session="b")
    found = errors(bridge.hello(3, "alice", token=ALICE_TOKEN, session="c"), 3)
    assert [e.code for e in found] == ["too_many_connections"]
    bridge.disconnect(1)
    assert bridge.join(3, "alice", token=ALICE_TOKEN, session="c") == addr("alice")


def test_an_ip_has_a_connection_limit() -> None:
    """Beyond max_conns_per_ip connections from one address, the new one is told and closed."""
    bridge = Bridge(limits=Limits(max_conns_per_ip=1))
    assert bridge.connect(1, "10.0.0.9:1000") == []
    actions = bridge.connect(2, "10.0.0.9:1001")
    assert [e.code for e in errors(actions, 2)] == ["too_many_connections"]
    assert [c.conn for c in closes(actions)] == [2]
    assert bridge.hello(2, "late") == []  # the refused connection is not served
    assert frames(bridge.connect(3, "10.0.0.8:1000")) == []
