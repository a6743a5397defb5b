"""Router: an owner forgets its address (§2.5); the reply and the close follow the commit."""

from __future__ import annotations

from ai_connect.bridge.events import Persist
from ai_connect.bridge.store.base import ForgetOp
from ai_connect.protocol import ErrorCode, Forgotten, PeerList

from .helpers import Bridge, addr, closes, errors, frames, one, pair, persists

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
