"""Router: hello/welcome, address assignment, takeover and the resume cursor (§2.1)."""

from __future__ import annotations

from ai_connect.bridge.core import CLOSE_REPLACED
from ai_connect.bridge.events import Close, LoadPending, Persist
from ai_connect.bridge.store.base import AckOp, PeerRecord
from ai_connect.protocol import Error, ErrorCode, Pong, Welcome

from .helpers import (
    PROJECT,
    START,
    Bridge,
    addr,
    closes,
    delivers,
    errors,
    frames,
    one,
    persists,
)

ALICE = addr("Alice")
ALICE2 = addr("Alice#2")
BOB = addr("Bob")


def backlog(bridge: Bridge, sender_conn: int, to: str, count: int) -> None:
    """Commits ``count`` messages from ``sender_conn`` to ``to``."""
    for i in range(count):
        bridge.send(sender_conn, to, f"m{i + 1}")
    bridge.settle()


# --- hello / welcome -----------------------------------------------------------------


def test_hello_is_answered_with_welcome() -> None:
    """A valid hello gets a welcome with the address, its parts and empty cursors."""
    bridge = Bridge()
    actions = bridge.hello(1, "Alice", rid="r1")
    welcome = one(Welcome, actions, 1)
    assert welcome.rid == "r1"
    assert welcome.address == ALICE
    assert (welcome.name, welcome.project) == ("Alice", PROJECT)
    assert welcome.server == "t"
    assert (welcome.unread, welcome.tip, welcome.acked) == (0, 0, 0)
    assert welcome.limits["window_messages"] == bridge.config.limits.window_messages
    assert bridge.router.online == {ALICE: 1}


def test_hello_persists_the_peer_record() -> None:
    """Registration writes the peer (address, name, project, last_seen) to the store."""
    bridge = Bridge()
    records = [p.op for p in persists(bridge.hello(1, "Alice"))]
    assert records == [PeerRecord(ALICE, "Alice", PROJECT, START, START)]
    bridge.settle()
    assert [p.address for p in bridge.store.peers()] == [ALICE]


def test_welcome_reports_unread_tip_and_acked() -> None:
    """A returning peer's welcome counts its mailbox: unread = tip - acked."""
    bridge = Bridge()
    bridge.join(1, "Alice")
    bridge.join(2, "Bob")
    bridge.disconnect(2)
    backlog(bridge, 1, BOB, 3)
    actions = bridge.hello(3, "Bob")
    welcome = one(Welcome, actions, 3)
    assert (welcome.unread, welcome.tip, welcome.acked) == (3, 3, 0)
    load = [a for a in actions if isinstance(a, LoadPending)]
    assert [(x.conn, x.recipient, x.after_seq) for x in load] == [(3, BOB, 0)]


def test_frames_before_hello_get_not_registered_and_the_link_stays_usable() -> None:
    """A request before hello gets not_registered (rid echoed); a later hello works."""
    bridge = Bridge()
    bridge.connect(1)
    for kind, extra in [
        ("send", {"cid": "c", "to": "Bob", "body": "x"}),
        ("peers", {}),
        ("status", {}),
        ("history", {}),
        ("search", {"query": "x"}),
    ]:
        actions = bridge.frame(1, type=kind, rid=f"q-{kind}", **extra)
        error = one(Error, actions, 1)
        assert error.code == ErrorCode.NOT_REGISTERED, kind
        assert error.rid == f"q-{kind}"
        assert "hello" in error.hint
        assert not persists(actions) and not closes(actions)
    ack_error = errors(bridge.ack(1, 1), 1)
    assert [e.code for e in ack_error] == [ErrorCode.NOT_REGISTERED]
    assert one(Welcome, bridge.hello(1, "Alice"), 1).address == ALICE


def test_ping_works_before_and_after_hello() -> None:
    """ping is answered with pong (rid echoed) whether or not the link is registered."""
    bridge = Bridge()
    bridge.connect(1)
    assert frames(bridge.frame(1, type="ping", rid=7)) == [Pong(rid=7)]
    bridge.hello(1, "Alice")
    assert frames(bridge.frame(1, type="ping")) == [Pong()]


def test_second_hello_is_refused() -> None:
    """A second hello on a registered link gets already_registered; the address stays."""
    bridge = Bridge()
    bridge.hello(1, "Alice")
    actions = bridge.hello(1, "Carol", rid="again")
    error = one(Error, actions, 1)
    assert (error.code, error.rid) == (ErrorCode.ALREADY_REGISTERED, "again")
    assert not persists(actions)
    assert bridge.router.address_of(1) == ALICE


def test_wrong_protocol_version_is_refused() -> None:
    """hello with another protocol version gets protocol_version and no registration."""
    bridge = Bridge()
    actions = bridge.hello(1, "Alice", protocol=2, rid="v")
    (error,) = errors(actions, 1)
    assert (error.code, error.rid) == (ErrorCode.PROTOCOL_VERSION, "v")
    assert "1" in error.message
    assert not persists(actions)
    assert bridge.router.address_of(1) is None
    assert one(Welcome, bridge.hello(1, "Alice"), 1).address == ALICE


def test_frames_on_unknown_connections_are_ignored() -> None:
    """A frame for a connection the router never saw produces nothing."""
    bridge = Bridge()
    assert bridge.frame(9, type="ping", rid=1) == []


# --- address assignment ----------------------------------------------------------------


def test_second_live_session_gets_a_numbered_address() -> None:
    """A second live session for a taken address gets Name#2; the first keeps its own."""
    bridge = Bridge()
    bridge.join(1, "Alice", session="s1")
    actions = bridge.hello(2, "Alice", session="s2")
    assert one(Welcome, actions, 2).address == ALICE2
    assert one(Welcome, actions, 2).name == "Alice#2"
    assert not closes(actions)
    assert frames(actions, 1) == []
    assert bridge.router.online == {ALICE: 1, ALICE2: 2}
    assert one(Welcome, bridge.hello(3, "Alice"), 3).address == addr("Alice#3")


def test_sessionless_hellos_never_take_over() -> None:
    """Two hellos without a session id are two sessions: no takeover."""
    bridge = Bridge()
    bridge.join(1, "Alice")
    actions = bridge.hello(2, "Alice")
    assert one(Welcome, actions, 2).address == ALICE2
    assert not closes(actions)


def test_same_session_reconnecting_takes_over() -> None:
    """The same session saying hello again takes its address; the old link gets 4000."""
    bridge = Bridge()
    watcher = 9
    bridge.join(watcher, "Watch", presence=True)
    bridge.join(1, "Alice", session="s1")
    actions = bridge.hello(2, "Alice", session="s1")
    assert closes(actions) == [Close(1, CLOSE_REPLACED, "replaced by a newer connection")]
    assert one(Welcome, actions, 2).address == ALICE
    assert bridge.router.online[ALICE] == 2
    assert bridge.router.address_of(1) is None
    # The old link's late close must not take the new one offline.
    late = bridge.disconnect(1)
    assert late == []
    assert bridge.router.online[ALICE] == 2


def test_takeover_redelivers_what_the_old_link_left_unacked() -> None:
    """After a takeover the new link gets the mailbox again from the acked cursor."""
    bridge = Bridge()
    bridge.join(1, "Alice")
    bridge.join(2, "Bob", session="b")
    backlog(bridge, 1, BOB, 3)
    bridge.ack(2, 1)
    bridge.settle()
    bridge.hello(3, "Bob", session="b")
    redelivered = delivers(bridge.settle(), 3)
    assert [d.seq for d in redelivered] == [2, 3]
    assert [d.body for d in redelivered] == ["m2", "m3"]


def test_returning_session_gets_its_numbered_address_back_while_the_base_is_held() -> None:
    """A session that asks for its old Name#2 address gets it back when it is free."""
    bridge = Bridge()
    bridge.join(1, "Alice", session="s1")
    assert bridge.join(2, "Alice", session="s2") == ALICE2
    bridge.disconnect(2)
    bridge.join(3, "Bob")
    backlog(bridge, 3, ALICE2, 2)
    actions = bridge.hello(4, "Alice", session="s2-new-process", address=ALICE2)
    welcome = one(Welcome, actions, 4)
    assert welcome.address == ALICE2
    assert welcome.unread == 2
    assert [d.body for d in delivers(bridge.settle(), 4)] == ["m1", "m2"]


def test_returning_session_keeps_its_numbered_address_when_the_base_is_free() -> None:
    """A returning Name#2 session gets Name#2 back (its mail), not the free base address."""
    bridge = Bridge()
    bridge.join(1, "Alice", session="s1")
    bridge.join(2, "Alice", session="s2")
    bridge.disconnect(1)
    bridge.disconnect(2)
    assert one(Welcome, bridge.hello(3, "Alice", address=ALICE2), 3).address == ALICE2


def test_address_preference_for_a_held_address_falls_back_to_a_free_one() -> None:
    """Asking for an address another live session holds gives the next free address."""
    bridge = Bridge()
    bridge.join(1, "Alice", session="s1")
    actions = bridge.hello(2, "Alice", session="s2", address=ALICE)
    assert one(Welcome, actions, 2).address == ALICE2
    assert not closes(actions)


def test_address_preference_must_match_name_and_project() -> None:
    """An address preference for another name or project is ignored."""
    bridge = Bridge()
    assert one(Welcome, bridge.hello(1, "Alice", address=BOB), 1).address == ALICE
    other = addr("Alice", "elsewhere")
    assert one(Welcome, bridge.hello(2, "Carol", address=other), 2).address == addr("Carol")
    assert one(Welcome, bridge.hello(3, "Dan", address="not an address"), 3).address == addr("Dan")


def test_resume_cursor_counts_in_the_same_mailbox() -> None:
    """resume acts as an ack when the session gets its previous address back."""
    bridge = Bridge()
    bridge.join(1, "Alice")
    bridge.join(2, "Bob")
    backlog(bridge, 1, BOB, 3)
    bridge.disconnect(2)
    actions = bridge.hello(3, "Bob", address=BOB, resume=2)
    welcome = one(Welcome, actions, 3)
    assert (welcome.acked, welcome.unread, welcome.tip) == (2, 1, 3)
    assert Persist(AckOp(BOB, 2)) in actions
    assert [d.seq for d in delivers(bridge.settle(), 3)] == [3]
    assert {p.address: p.acked for p in bridge.store.peers()}[BOB] == 2


def test_resume_cursor_is_clamped_to_the_tip() -> None:
    """A resume beyond the mailbox tip acks the whole mailbox, never past it."""
    bridge = Bridge()
    bridge.join(1, "Alice")
    bridge.join(2, "Bob")
    backlog(bridge, 1, BOB, 2)
    bridge.disconnect(2)
    welcome = one(Welcome, bridge.hello(3, "Bob", address=BOB, resume=50), 3)
    assert (welcome.acked, welcome.tip, welcome.unread) == (2, 2, 0)


def test_resume_cursor_is_ignored_without_the_same_address() -> None:
    """resume is ignored without an address, and when the session gets another address."""
    bridge = Bridge()
    bridge.join(1, "Carol")
    bridge.join(2, "Alice", session="s1")
    bridge.join(3, "Alice", session="s2")
    bridge.disconnect(3)
    backlog(bridge, 1, ALICE2, 3)
    # No address: the cursor may come from any mailbox.
    bare = bridge.hello(4, "Alice", session="s2", resume=3)
    assert one(Welcome, bare, 4).address == ALICE2
    assert (one(Welcome, bare, 4).acked, one(Welcome, bare, 4).unread) == (0, 3)
    assert not [p for p in persists(bare) if isinstance(p.op, AckOp)]
    bridge.disconnect(4)
    # A cursor of Alice (P), which is held: the session gets Alice#2 and its cursor is void.
    other = bridge.hello(5, "Alice", session="s3", address=ALICE, resume=3)
    assert one(Welcome, other, 5).address == ALICE2
    assert one(Welcome, other, 5).acked == 0


def test_a_known_offline_peer_takes_its_address_back() -> None:
    """A peer known from the store (offline) gets its own address, cursors included."""
    record = PeerRecord(ALICE, "Alice", PROJECT, 10.0, 20.0, tip=0, acked=0)
    bridge = Bridge(peers=[record])
    welcome = one(Welcome, bridge.hello(1, "Alice"), 1)
    assert welcome.address == ALICE
    assert bridge.router.online == {ALICE: 1}
