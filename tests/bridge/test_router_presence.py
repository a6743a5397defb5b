"""Router: presence events, silent-peer timeout, peers/status/history/search, abuse policy."""

from __future__ import annotations

from ai_connect.bridge.core import CLOSE_GOING_AWAY, CLOSE_POLICY
from ai_connect.bridge.events import Close, QueryHistory, QuerySearch, Send
from ai_connect.bridge.store.base import PeerRecord, PruneOp
from ai_connect.protocol import ErrorCode, Limits, PeerList, Presence, StatusReport

from .helpers import (
    PROJECT,
    START,
    Bridge,
    addr,
    closes,
    errors,
    frames,
    one,
    peer_record,
    persists,
)

ALICE = addr("Alice")
BOB = addr("Bob")
CAROL = addr("Carol")


# --- presence (§4) -----------------------------------------------------------------------


def test_join_goes_only_to_subscribers_and_never_to_self() -> None:
    """A join is sent to links that asked for presence, never to the joiner itself."""
    bridge = Bridge()
    bridge.join(1, "Alice", presence=True)
    bridge.join(2, "Bob", presence=False)
    bridge.now += 5
    actions = bridge.hello(3, "Carol", presence=True)
    events = [
        (a.conn, a.frame) for a in actions if isinstance(a, Send) and isinstance(a.frame, Presence)
    ]
    assert [conn for conn, _ in events] == [1]
    presence = events[0][1]
    assert isinstance(presence, Presence)
    assert presence.event == "join"
    assert (presence.peer.address, presence.peer.online) == (CAROL, True)
    assert presence.peer.last_seen == START + 5
    assert [f for f in frames(actions, 3) if isinstance(f, Presence)] == []


def test_leave_goes_only_to_subscribers() -> None:
    """A leave is sent to presence subscribers with the peer offline and its last_seen."""
    bridge = Bridge()
    bridge.join(1, "Alice", presence=True)
    bridge.join(2, "Bob", presence=True)
    bridge.join(3, "Carol")
    bridge.now += 7
    actions = bridge.disconnect(2)
    leave = one(Presence, actions, 1)
    assert leave.event == "leave"
    assert (leave.peer.address, leave.peer.online, leave.peer.last_seen) == (BOB, False, START + 7)
    assert frames(actions, 3) == []
    assert frames(actions, 2) == []


def test_a_join_looks_only_at_the_watchers_in_connection_order() -> None:
    """Joins reach the watchers in connection order whichever said hello first; the
    registry keeps just their ids (not every idle connection) and forgets a closed one."""
    bridge = Bridge()
    bridge.connect(1)
    bridge.join(2, "Alice", presence=True)
    bridge.hello(1, "Bob", presence=True)
    bridge.settle()
    for conn in range(3, 13):
        bridge.join(conn, f"Idle{conn}")
    registry = bridge.router._registry
    assert registry.watchers == {1, 2}
    bridge.disconnect(2)
    actions = bridge.hello(20, "Carol")
    assert [a.conn for a in actions if isinstance(a, Send) and isinstance(a.frame, Presence)] == [1]
    assert registry.watchers == {1}
    bridge.join(21, "Dave", presence=True)
    actions = bridge.hello(22, "Erin")
    assert [a.conn for a in actions if isinstance(a, Send) and isinstance(a.frame, Presence)] == [
        1,
        21,
    ]


def test_disconnect_marks_the_peer_offline_in_the_store() -> None:
    """A closed link persists the peer with last_seen = the time of the close."""
    bridge = Bridge()
    bridge.join(1, "Alice")
    bridge.now += 3
    actions = bridge.disconnect(1)
    assert [p.op for p in persists(actions)] == [
        PeerRecord(ALICE, "Alice", PROJECT, START, START + 3)
    ]
    assert bridge.router.online == {}


def test_unregistered_disconnect_is_silent() -> None:
    """A link that never said hello leaves without presence events or writes."""
    bridge = Bridge()
    bridge.join(1, "Alice", presence=True)
    bridge.connect(2)
    assert bridge.disconnect(2) == []


def test_tick_closes_silent_links_and_marks_the_peer_offline() -> None:
    """A link silent for presence_timeout is closed (1001) and its peer shown offline."""
    bridge = Bridge(presence_timeout_s=60)
    bridge.join(1, "Alice", presence=True)
    bridge.join(2, "Bob")
    bridge.now = START + 50
    bridge.frame(1, type="ping")
    actions = bridge.tick(START + 61)
    assert closes(actions) == [Close(2, CLOSE_GOING_AWAY, "no frame for 60 s")]
    assert bridge.router.online == {ALICE: 1}
    leave = one(Presence, actions, 1)
    assert (leave.event, leave.peer.address, leave.peer.online) == ("leave", BOB, False)
    # last_seen is when Bob was last heard from, not when the bridge noticed.
    assert leave.peer.last_seen == START
    (record,) = [p.op for p in persists(actions) if not isinstance(p.op, PruneOp)]
    assert isinstance(record, PeerRecord)
    assert (record.address, record.last_seen) == (BOB, START)
    bridge.settle()
    peers = one(PeerList, bridge.frame(1, type="peers", rid=1), 1).peers
    assert [(p.address, p.online, p.last_seen) for p in peers] == [
        (ALICE, True, START + 61),
        (BOB, False, START),
    ]


def test_tick_keeps_active_links_and_closes_silent_unregistered_ones() -> None:
    """Tick leaves links that spoke within the timeout and closes idle unregistered ones."""
    bridge = Bridge(presence_timeout_s=10)
    bridge.join(1, "Alice")
    bridge.connect(2)
    assert bridge.tick(START + 10) == []
    actions = bridge.tick(START + 10.5)
    assert sorted(c.conn for c in closes(actions)) == [1, 2]
    later = bridge.tick(START + 100)  # retention's first prune is due by now: nothing else
    assert [type(p.op) for p in persists(later)] == [PruneOp] and len(later) == 1


def test_a_late_disconnect_after_a_timeout_close_is_ignored() -> None:
    """The socket close that follows a timeout close produces nothing more."""
    bridge = Bridge(presence_timeout_s=10)
    bridge.join(1, "Alice")
    bridge.join(2, "Bob", presence=True)
    bridge.now = START + 9
    bridge.frame(2, type="ping")
    bridge.tick(START + 11)
    assert bridge.disconnect(1) == []


# --- queries (§3.4) ----------------------------------------------------------------------


def test_peers_lists_online_peers_first() -> None:
    """peers lists online peers first, each group by address ignoring case."""
    bridge = Bridge(peers=[peer_record("aaron", START - 50), peer_record("Zed", START - 10)])
    bridge.join(1, "Mia")
    bridge.join(2, "bob")
    bridge.now += 1
    peers = one(PeerList, bridge.frame(1, type="peers", rid="p"), 1).peers
    assert [(p.address, p.online) for p in peers] == [
        (addr("bob"), True),
        (addr("Mia"), True),
        (addr("aaron"), False),
        (addr("Zed"), False),
    ]
    assert [p.last_seen for p in peers] == [START + 1, START + 1, START - 50, START - 10]
    online = one(PeerList, bridge.frame(1, type="peers", rid="q", include_offline=False), 1)
    assert [p.address for p in online.peers] == [addr("bob"), addr("Mia")]
    assert online.rid == "q"


def test_status_reports_the_numbers() -> None:
    """status reports address, storage, uptime, peer counts and mailbox cursors."""
    bridge = Bridge(peers=[peer_record("Old")])
    bridge.join(1, "Alice")
    bridge.join(2, "Bob")
    for i in range(3):
        bridge.send(1, BOB, f"b{i}")
    bridge.settle()
    bridge.ack(2, 1)
    bridge.now = START + 42.5
    report = one(StatusReport, bridge.frame(2, type="status", rid="s"), 2)
    assert report.rid == "s"
    assert (report.address, report.server, report.storage) == (BOB, "t", "memory")
    assert report.uptime_s == 42.5
    assert (report.peers_online, report.peers_known) == (2, 3)
    assert (report.unread, report.tip, report.acked) == (2, 3, 1)


def test_history_and_search_become_store_queries() -> None:
    """history resolves its peer and clamps the limit; search becomes a store query."""
    bridge = Bridge(limits=Limits(history_max=10, search_max=5))
    bridge.join(1, "Alice")
    bridge.join(2, "Bob")
    actions = bridge.frame(1, type="history", rid="h1", peer="bob", limit=200, before=9)
    page = Limits().page_bytes
    assert actions == [QueryHistory(1, "h1", ALICE, BOB, 10, 9, page)]
    assert bridge.frame(1, type="history", rid="h2", limit=3) == [
        QueryHistory(1, "h2", ALICE, None, 3, None, page)
    ]
    assert bridge.frame(1, type="search", rid="s", query="deploy", limit=100, before=7) == [
        QuerySearch(1, "s", ALICE, "deploy", 5, 7, page)
    ]


def test_history_with_an_unknown_peer_is_an_error() -> None:
    """history for a peer nobody is gets unknown_peer and no query."""
    bridge = Bridge()
    bridge.join(1, "Alice")
    actions = bridge.frame(1, type="history", rid="h", peer="Nobody")
    assert [(e.code, e.rid) for e in errors(actions, 1)] == [(ErrorCode.UNKNOWN_PEER, "h")]
    assert not [a for a in actions if isinstance(a, QueryHistory)]


# --- abuse policy (§5) -------------------------------------------------------------------


def test_too_many_errors_in_the_window_close_the_link() -> None:
    """More than max_errors errors within error_window_s close the link with 1008."""
    bridge = Bridge(limits=Limits(max_errors=3, error_window_s=10))
    bridge.connect(1)
    for _ in range(3):
        actions = bridge.raw(1, "not json")
        assert len(errors(actions, 1)) == 1
        assert closes(actions) == []
    actions = bridge.raw(1, "[]")
    assert len(errors(actions, 1)) == 1
    (close,) = closes(actions)
    assert (close.conn, close.code) == (1, CLOSE_POLICY)
    assert "3 errors" in close.reason


def test_errors_spread_over_time_do_not_close_the_link() -> None:
    """Errors older than error_window_s no longer count towards the limit."""
    bridge = Bridge(limits=Limits(max_errors=3, error_window_s=10))
    bridge.join(1, "Alice")
    for i in range(20):
        bridge.now = START + i * 4
        actions = bridge.send(1, "Nobody")
        assert len(errors(actions, 1)) == 1
        assert closes(actions) == []


def test_request_errors_count_towards_the_limit() -> None:
    """Errors answered to well-formed but wrong requests count like bad frames."""
    bridge = Bridge(limits=Limits(max_errors=2, error_window_s=60))
    bridge.join(1, "Alice")
    bridge.send(1, "Nobody")
    bridge.ack(1, 99)
    actions = bridge.hello(1, "Alice")
    assert [c.code for c in closes(actions)] == [CLOSE_POLICY]


def test_hostile_frames_from_a_registered_peer_are_answered_and_the_link_survives() -> None:
    """Bad frames get error frames that can be encoded, nothing is stored, the link lives."""
    bridge = Bridge(limits=Limits(max_frame_bytes=4_096))
    bridge.join(1, "Alice")
    bridge.join(2, "Bob")
    deep = "[" * 100_000 + "]" * 100_000
    hostile: list[str | bytes] = [
        '{"type": "send", "rid": "s", "cid": "c", "to": "Bob", "body": "\\ud800"}',
        '{"type": "send", "rid": "s", "cid": "c", "to": "Bob", "body": "", "context": {"a": '
        + "[" * 300
        + "]" * 300
        + "}}",
        '{"type": "send", "rid": "s", "cid": "c", "to": "Bob", "body": "", "context": '
        + deep
        + "}",
        '{"type": "send", "rid": "s", "cid": "c", "to": "Bob", "body": "' + "x" * 5_000 + '"}',
        b"\xff\xfe\x00",
        "[]",
        "null",
        '{"type": "hello"}',
        '{"type": "ack", "seq": 1e400}',
    ]
    for data in hostile:
        actions = bridge.raw(1, data)
        assert len(errors(actions, 1)) == 1, data[:60]
        assert persists(actions) == [] and closes(actions) == []
    assert bridge.batch == []
    assert frames(bridge.frame(1, type="ping", rid="alive"))[0].type == "pong"
