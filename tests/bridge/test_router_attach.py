"""Router: ``attach`` connections act for an address beside its owner (§2.2)."""

from __future__ import annotations

from ai_connect.protocol import Acked, Error, ErrorCode, Presence, Welcome

from .helpers import Bridge, addr, closes, delivers, errors, frames, one

ALICE = addr("Alice")
ALICE2 = addr("Alice#2")
BOB = addr("Bob")


def owners() -> Bridge:
    """Alice (conn 1, session s1), Alice#2 (conn 2, session s2) and Bob (conn 3)."""
    bridge = Bridge()
    assert bridge.join(1, "Alice", session="s1") == ALICE
    assert bridge.join(2, "Alice", session="s2") == ALICE2
    assert bridge.join(3, "Bob", session="b", presence=True) == BOB
    return bridge


def attach(bridge: Bridge, conn: int, session: str | None, **fields: object) -> str | None:
    """Says an attach hello; returns the address it got (``None`` on an error)."""
    actions = bridge.hello(conn, "Alice", session=session, attach=True, **fields)
    bridge.settle()
    welcomes = [f for f in frames(actions, conn) if isinstance(f, Welcome)]
    return welcomes[0].address if welcomes else None


def test_attach_finds_the_address_held_by_its_session() -> None:
    """Each session's attach lands on the address that session holds, #2 included."""
    bridge = owners()
    assert attach(bridge, 10, "s2") == ALICE2
    assert attach(bridge, 11, "s1") == ALICE
    assert bridge.router.online == {ALICE: 1, ALICE2: 2, BOB: 3}


def test_attach_neither_takes_over_nor_joins() -> None:
    """The owner keeps its link (no close) and presence watchers see no join."""
    bridge = owners()
    actions = bridge.hello(10, "Alice", session="s1", attach=True)
    assert closes(actions) == []
    assert [f for f in frames(actions, 3) if isinstance(f, Presence)] == []


def test_attach_for_a_foreign_session_is_refused() -> None:
    """Another session's address is not for the taking: address_in_use, conn stays NEW."""
    bridge = owners()
    actions = bridge.hello(10, "Alice", session="intruder", attach=True, rid="a")
    error = one(Error, actions, 10)
    assert (error.code, error.rid) == (ErrorCode.ADDRESS_IN_USE, "a")
    assert bridge.router.address_of(10) is None
    assert attach(bridge, 10, "s1") == ALICE  # the same connection may try again


def test_attach_with_an_address_must_match_its_name_and_project() -> None:
    """An explicit address of another name is refused, even when nobody holds it."""
    bridge = owners()
    assert attach(bridge, 10, "s1", address=BOB) is None
    assert attach(bridge, 11, "s1", address=ALICE) == ALICE


def test_attach_without_session_never_matches_an_owner_without_session() -> None:
    """A session-less owner cannot be attached to by a session-less hello."""
    bridge = Bridge()
    bridge.join(1, "Alice")
    assert attach(bridge, 10, None) is None


def test_attach_to_a_free_address_leaves_it_free_for_its_owner() -> None:
    """Nobody holds Alice: the attach acts for it, and the owner still gets Alice, not #2."""
    bridge = Bridge()
    assert attach(bridge, 10, "s1") == ALICE
    assert bridge.router.online == {}
    assert bridge.join(1, "Alice", session="s1") == ALICE


def test_a_message_reaches_the_owner_and_every_attached_connection() -> None:
    """A delivery goes to each connection of the address, with the same seq."""
    bridge = owners()
    attach(bridge, 10, "s1")
    bridge.send(3, ALICE, "hello")
    actions = bridge.settle()
    assert [(d.seq, d.body) for d in delivers(actions, 1)] == [(1, "hello")]
    assert [(d.seq, d.body) for d in delivers(actions, 10)] == [(1, "hello")]
    assert delivers(actions, 2) == []


def test_attached_connection_gets_the_backlog_on_welcome() -> None:
    """Mail waiting for the address is delivered to a connection that attaches later."""
    bridge = owners()
    bridge.send(3, ALICE, "one")
    bridge.send(3, ALICE, "two")
    bridge.settle()
    actions = bridge.hello(10, "Alice", session="s1", attach=True)
    assert one(Welcome, actions, 10).unread == 2
    actions += bridge.settle()
    assert [d.body for d in delivers(actions, 10)] == ["one", "two"]


def test_an_ack_on_one_connection_is_announced_to_the_others() -> None:
    """An attached ack sends acked (no rid) to the owner, which then may ack it too."""
    bridge = owners()
    attach(bridge, 10, "s1")
    attach(bridge, 11, "s1")
    bridge.send(3, ALICE, "hello")
    bridge.settle()
    actions = bridge.ack(10, 1, rid="k")
    for conn in (1, 11):
        notice = one(Acked, actions, conn)
        assert (notice.rid, notice.seq) == (None, 1)
    assert [f for f in frames(actions, 10) if isinstance(f, Acked)] == []
    reply = one(Acked, bridge.settle(), 10)
    assert (reply.rid, reply.seq) == ("k", 1)
    assert errors(bridge.ack(1, 1, rid="late")) == []


def test_an_owner_ack_is_announced_to_attached_connections() -> None:
    """The owner acks: the attached connection learns it and gets no redelivery."""
    bridge = owners()
    attach(bridge, 10, "s1")
    bridge.send(3, ALICE, "hello")
    bridge.settle()
    actions = bridge.ack(1, 1)
    assert one(Acked, actions, 10).seq == 1
    bridge.send(3, ALICE, "next")
    actions = bridge.settle()
    assert [(d.seq, d.body) for d in delivers(actions, 10)] == [(2, "next")]


def test_an_ack_that_does_not_advance_announces_nothing() -> None:
    """Only an ack that moves the mailbox cursor is announced."""
    bridge = owners()
    attach(bridge, 10, "s1")
    bridge.send(3, ALICE, "hello")
    bridge.settle()
    bridge.ack(1, 1)
    assert [f for f in frames(bridge.ack(10, 1), 1) if isinstance(f, Acked)] == []


def test_attached_disconnect_leaves_the_owner_online() -> None:
    """An attached link going away is silent: no leave, the owner stays online."""
    bridge = owners()
    attach(bridge, 10, "s1")
    actions = bridge.disconnect(10)
    assert [f for f in frames(actions, 3) if isinstance(f, Presence)] == []
    assert bridge.router.online[ALICE] == 1
    bridge.send(3, ALICE, "still there")
    assert [d.body for d in delivers(bridge.settle(), 1)] == ["still there"]


def test_attached_connection_survives_its_owner() -> None:
    """The owner leaves; the attached link keeps receiving the address's mail."""
    bridge = owners()
    attach(bridge, 10, "s1")
    bridge.disconnect(1)
    bridge.send(3, ALICE, "for the hook")
    actions = bridge.settle()
    assert [d.body for d in delivers(actions, 10)] == ["for the hook"]
    assert ALICE not in bridge.router.online


def test_silent_attached_connection_times_out_quietly() -> None:
    """A tick closes a silent attached link without a leave event."""
    bridge = owners()
    attach(bridge, 10, "s1")
    bridge.now += 30
    for conn in (1, 2, 3):
        bridge.frame(conn, type="ping")
    actions = bridge.tick(bridge.now + 40)
    assert [c.conn for c in closes(actions)] == [10]
    assert [f for f in frames(actions) if isinstance(f, Presence)] == []
