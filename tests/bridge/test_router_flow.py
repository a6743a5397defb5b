"""Router: acks and flow control -- windows of messages and bytes in flight (§3.2, §3.3)."""

from __future__ import annotations

from ai_connect.bridge.events import LoadPending, PendingLoaded
from ai_connect.bridge.store.base import AckOp, DeliveredOp
from ai_connect.protocol import Acked, ErrorCode

from .helpers import START, addr, delivers, errors, frames, pair, persists

BOB = addr("Bob")


# --- acks (§3.3) -------------------------------------------------------------------------


def test_ack_beyond_the_tip_is_refused() -> None:
    """An ack above the mailbox tip gets bad_ack and writes nothing."""
    bridge = pair()
    bridge.send(1, BOB)
    bridge.settle()
    actions = bridge.ack(2, 2, rid="k")
    (error,) = errors(actions, 2)
    assert (error.code, error.rid) == (ErrorCode.BAD_ACK, "k")
    assert persists(actions) == []


def test_ack_with_rid_is_answered_after_the_commit() -> None:
    """An ack with a rid is stored first, then answered with acked."""
    bridge = pair()
    bridge.send(1, BOB)
    bridge.send(1, BOB)
    bridge.settle()
    actions = bridge.ack(2, 2, rid="k")
    assert frames(actions) == []
    assert [p.op for p in persists(actions)] == [
        AckOp(BOB, 2, None, START),
        DeliveredOp(BOB, 2, START),
    ]
    assert frames(bridge.commit()) == [Acked(rid="k", seq=2)]
    assert [p.acked for p in bridge.store.peers() if p.address == BOB] == [2]


def test_ack_with_rid_at_or_below_the_cursor_is_answered_at_once() -> None:
    """An ack that moves nothing is answered immediately with the current cursor."""
    bridge = pair()
    for _ in range(3):
        bridge.send(1, BOB)
    bridge.settle()
    bridge.ack(2, 2)
    bridge.settle()
    for seq in (2, 1, 0):
        actions = bridge.ack(2, seq, rid=f"k{seq}")
        assert persists(actions) == []
        assert frames(actions) == [Acked(rid=f"k{seq}", seq=2)]


def test_ack_with_rid_waits_for_an_earlier_ack_still_uncommitted() -> None:
    """acked promises a stored cursor: it waits for an earlier ack that is not committed yet."""
    bridge = pair()
    bridge.send(1, BOB)
    bridge.send(1, BOB)
    bridge.settle()
    bridge.ack(2, 2)
    actions = bridge.ack(2, 2, rid="k")
    assert frames(actions) == []
    assert frames(bridge.commit()) == [Acked(rid="k", seq=2)]
    assert [p.acked for p in bridge.store.peers() if p.address == BOB] == [2]
    assert frames(bridge.ack(2, 1, rid="again")) == [Acked(rid="again", seq=2)]


def test_ack_with_rid_after_a_failed_commit_is_stored_again() -> None:
    """After a failed ack commit, the same ack with a rid is written again, then answered."""
    bridge = pair()
    bridge.send(1, BOB)
    bridge.settle()
    bridge.ack(2, 1, rid="k1")
    assert [e.rid for e in errors(bridge.fail_commit(), 2)] == ["k1"]
    actions = bridge.ack(2, 1, rid="k2")
    assert [p.op for p in persists(actions)] == [AckOp(BOB, 1, None, START)]
    assert frames(bridge.commit()) == [Acked(rid="k2", seq=1)]
    assert [p.acked for p in bridge.store.peers() if p.address == BOB] == [1]


def test_ack_without_rid_is_silent() -> None:
    """A plain ack is stored without an answer."""
    bridge = pair()
    bridge.send(1, BOB)
    bridge.settle()
    actions = bridge.ack(2, 1)
    assert frames(actions) == []
    assert frames(bridge.commit()) == []


# --- flow control (§3.2) -----------------------------------------------------------------


def test_window_messages_bounds_deliveries_in_flight() -> None:
    """With window_messages=3 only 3 deliveries are in flight; acks release the rest in order."""
    bridge = pair(window_messages=3)
    for i in range(1, 8):
        bridge.send(1, BOB, f"b{i}")
    first = delivers(bridge.settle(), 2)
    assert [d.seq for d in first] == [1, 2, 3]
    seen = [d.body for d in first]
    acked = 0
    while len(seen) < 7:
        acked += 1
        actions = bridge.ack(2, acked)
        # The next entry was committed while the window was full: it waits in memory and
        # leaves with the ack, read back from no store (issue 13).
        assert [a for a in actions if isinstance(a, LoadPending)] == []
        got = delivers(actions + bridge.settle(), 2)
        assert len(got) == 1
        seen += [d.body for d in got]
    assert seen == [f"b{i}" for i in range(1, 8)]


def test_offline_backlog_drains_in_windows() -> None:
    """A returning peer's backlog comes one window at a time, each after the acks."""
    bridge = pair(window_messages=4)
    bridge.disconnect(2)
    for i in range(1, 11):
        bridge.send(1, BOB, f"b{i}")
    bridge.settle()
    bridge.hello(3, "Bob")
    seqs: list[int] = []
    page = [d.seq for d in delivers(bridge.settle(), 3)]
    while page:
        assert len(page) <= 4
        seqs += page
        acked = bridge.ack(3, page[-1])  # the next page may be in memory already
        page = [d.seq for d in delivers(acked + bridge.settle(), 3)]
    assert seqs == list(range(1, 11))


def test_window_bytes_bounds_bytes_in_flight() -> None:
    """A delivery starts only while the bytes in flight are below window_bytes."""
    bridge = pair(window_bytes=100)
    for i in range(4):
        bridge.send(1, BOB, f"{i}" * 60)
    first = delivers(bridge.settle(), 2)
    assert [d.seq for d in first] == [1, 2]
    assert [d.seq for d in delivers(bridge.ack(2, 1) + bridge.settle(), 2)] == [3]
    assert [d.seq for d in delivers(bridge.ack(2, 3) + bridge.settle(), 2)] == [4]


def test_window_bytes_bounds_an_offline_backlog() -> None:
    """Backlog pages respect window_bytes as live deliveries do."""
    bridge = pair(window_bytes=100)
    bridge.disconnect(2)
    for i in range(4):
        bridge.send(1, BOB, f"{i}" * 60)
    bridge.settle()
    bridge.hello(3, "Bob")
    assert [d.seq for d in delivers(bridge.settle(), 3)] == [1, 2]
    assert [d.seq for d in delivers(bridge.ack(3, 2) + bridge.settle(), 3)] == [3, 4]


def test_a_message_larger_than_window_bytes_goes_out_when_nothing_is_in_flight() -> None:
    """One message above window_bytes is still delivered alone; the next waits for its ack."""
    bridge = pair(window_bytes=100)
    bridge.send(1, BOB, "x" * 500)
    bridge.send(1, BOB, "small")
    assert [d.seq for d in delivers(bridge.settle(), 2)] == [1]
    assert [d.body for d in delivers(bridge.ack(2, 1) + bridge.settle(), 2)] == ["small"]


def test_a_load_that_raced_a_commit_still_delivers_everything_once() -> None:
    """A page read before a commit is followed by another load; nothing is lost or doubled."""
    bridge = pair()
    bridge.disconnect(2)
    bridge.send(1, BOB, "old1")
    bridge.send(1, BOB, "old2")
    bridge.settle()
    bridge.hello(3, "Bob")
    (load,) = bridge.loads
    bridge.loads = []
    stale = bridge.store.pending(BOB, load.after_seq, load.limit, load.max_bytes)
    bridge.send(1, BOB, "new")
    done = bridge.commit()
    assert delivers(done, 3) == []  # a page is on its way
    done += bridge.handle(PendingLoaded(3, load.after_seq, tuple(stale)))
    done += bridge.settle()
    assert [(d.seq, d.body) for d in delivers(done, 3)] == [(1, "old1"), (2, "old2"), (3, "new")]
