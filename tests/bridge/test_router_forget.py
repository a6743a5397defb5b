"""Router: an owner forgets its address (§2.5); the reply and the close follow the commit."""

from __future__ import annotations

from ai_connect.bridge.auth import new_token
from ai_connect.bridge.events import Persist
from ai_connect.bridge.store.base import ForgetOp
from ai_connect.protocol import ErrorCode, Forgotten, PeerList

from .helpers import START, Bridge, addr, closes, errors, frames, one, pair, persists

ALICE, BOB = addr("Alice"), addr("Bob")


def test_forget_answers_after_the_commit_then_closes() -> None:
    """forget: the ForgetOp is persisted; forgotten and the close come with the commit."""
    bridge = pair()
    actions = bridge.frame(2, type="forget", rid="f")
    assert [p.op for p in persists(actions)] == [ForgetOp(BOB)]
    assert frames(actions, 2) == [] and closes(actions) == []
    committed = bridge.commit()
    assert one(Forgotten, committed, 2).address == BOB
    assert [c.conn for c in closes(committed)] == [2]
    assert BOB not in {p.address for p in bridge.store.peers()}


def test_a_forgotten_address_is_unknown_at_once() -> None:
    """Before the commit, the address is gone: sends to it are refused as unknown."""
    bridge = pair()
    bridge.frame(2, type="forget", rid="f")
    (error,) = errors(bridge.send(1, BOB, "anyone?"), 1)
    assert error.code == ErrorCode.UNKNOWN_PEER
    listed = one(PeerList, bridge.frame(1, type="peers", rid="p", include_offline=True), 1)
    assert [p.address for p in listed.peers] == [ALICE]


def test_only_the_owner_may_forget() -> None:
    """An attached connection may not forget the address it acts for."""
    bridge = Bridge()
    bridge.join(1, "Alice", session="s1")
    bridge.hello(2, "Alice", session="s1", attach=True)
    bridge.settle()
    (error,) = errors(bridge.frame(2, type="forget", rid="f"), 2)
    assert error.code == ErrorCode.FORBIDDEN
    assert not [a for a in bridge.settle() if isinstance(a, Persist)]


def test_attached_connections_of_a_forgotten_address_are_closed() -> None:
    """Attached connections lose their address with it and are closed."""
    bridge = Bridge()
    bridge.join(1, "Alice", session="s1")
    bridge.hello(2, "Alice", session="s1", attach=True)
    bridge.settle()
    actions = bridge.frame(1, type="forget", rid="f")
    assert [c.conn for c in closes(actions)] == [2]
    assert bridge.router.address_of(2) is None


def test_the_operator_forgets_a_live_peer_and_its_sessions_are_closed() -> None:
    """admin_forget: Bob's connections close at once (4002), his record and mailbox go
    with the commit, and the admin's own connection gets forgotten and stays open."""
    bridge = pair()
    bridge.disconnect(2)
    bridge.join(2, "Bob", session="s")
    bridge.hello(3, "Bob", session="s", attach=True)  # his hooks, acting for him
    bridge.send(1, BOB, "waiting for bob")
    bridge.settle()
    actions = bridge.frame(1, type="admin_forget", rid="f", peer="Bob (proj)")
    assert [(c.conn, c.code) for c in closes(actions)] == [(2, 4002), (3, 4002)]
    assert "operator" in closes(actions)[0].reason
    committed = bridge.commit()
    assert one(Forgotten, committed, 1).address == BOB and closes(committed) == []
    assert BOB not in {p.address for p in bridge.store.peers()}
    assert bridge.store.pending(BOB, 0, 10, 1 << 20) == []
    assert errors(bridge.frame(1, type="ping", rid="still"), 1) == []


def test_admin_forget_needs_an_admin_token_when_auth_is_on() -> None:
    """With auth on, a plain token is refused (forbidden) and nothing is forgotten."""
    alice_token, alice = new_token("alice", now=START)
    bob_token, bob = new_token("bob", now=START)
    bridge = Bridge(tokens=(alice, bob))
    bridge.join(1, "alice", token=alice_token)
    bridge.join(2, "bob", token=bob_token)
    actions = bridge.frame(1, type="admin_forget", rid="f", peer="bob")
    assert [e.code for e in errors(actions, 1)] == [ErrorCode.FORBIDDEN]
    assert "--admin" in errors(actions, 1)[0].hint and not persists(actions)
    assert bridge.router.online == {addr("alice"): 1, addr("bob"): 2}
