"""Router: send, resolution, broadcast, accepted-after-commit, deliver, redelivery (§3)."""

from __future__ import annotations

from collections.abc import Iterable

import pytest

from ai_connect.bridge.events import Action, LoadPending, Persist
from ai_connect.bridge.store.base import AppendOp
from ai_connect.protocol import Accepted, Deliver, ErrorCode, Welcome

from .helpers import (
    START,
    Bridge,
    addr,
    delivers,
    errors,
    frames,
    one,
    pair,
    peer_record,
    persists,
)

ALICE = addr("Alice")
BOB = addr("Bob")
BOBBY = addr("Bobby", "other")
CAROL = addr("Carol")


def appends(actions: Iterable[Action]) -> list[AppendOp]:
    return [a.op for a in actions if isinstance(a, Persist) and isinstance(a.op, AppendOp)]


# --- resolution (§3.1) -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        (BOB, BOB),
        ("bob (PROJ)", BOB),
        ("Bob", BOB),
        ("bob", BOB),
        ("Bobby", BOBBY),
        ("Car", CAROL),
        ("carol (p", CAROL),
    ],
)
def test_targets_resolve_to_one_known_peer(target: str, expected: str) -> None:
    """Full address, case-insensitive address, bare name and unique prefix all resolve."""
    bridge = Bridge(peers=[peer_record("Bobby", project="other"), peer_record("Carol")])
    bridge.join(1, "Alice")
    bridge.join(2, "Bob")
    (op,) = appends(bridge.send(1, target))
    assert op.message.to == expected
    assert op.recipients == (expected,)


def test_a_bare_name_reaches_an_offline_peer() -> None:
    """A bare name resolves to a known peer that is offline; the mail waits for it."""
    bridge = Bridge(peers=[peer_record("mini")])
    bridge.join(1, "Alice")
    actions = bridge.send(1, "mini", "for later", rid="r")
    (op,) = appends(actions)
    assert op.recipients == (addr("mini"),)
    accepted = one(Accepted, bridge.settle(), 1)
    assert (accepted.to, accepted.online) == (addr("mini"), [])
    welcome = one(Welcome, bridge.hello(5, "mini"), 5)
    assert welcome.unread == 1
    assert [d.body for d in delivers(bridge.settle(), 5)] == ["for later"]


def test_ambiguous_target_is_refused_with_candidates() -> None:
    """A prefix of several addresses gets ambiguous_peer listing them; nothing is stored."""
    bridge = Bridge(peers=[peer_record("Bobby", project="other")])
    bridge.join(1, "Alice")
    bridge.join(2, "Bob")
    actions = bridge.send(1, "Bo", rid="amb")
    (error,) = errors(actions, 1)
    assert (error.code, error.rid) == (ErrorCode.AMBIGUOUS_PEER, "amb")
    assert error.candidates == [BOB, BOBBY]
    assert error.hint
    assert persists(actions) == [] and bridge.batch == []


def test_unknown_target_is_refused_with_candidates() -> None:
    """A target that names nobody gets unknown_peer with close matches; nothing is stored."""
    bridge = pair()
    actions = bridge.send(1, "Bbo (proj)", rid="unk")
    (error,) = errors(actions, 1)
    assert (error.code, error.rid) == (ErrorCode.UNKNOWN_PEER, "unk")
    assert error.candidates is not None and BOB in error.candidates
    assert persists(actions) == [] and bridge.batch == []
    nobody = errors(bridge.send(1, "Zzz"), 1)
    assert [e.code for e in nobody] == [ErrorCode.UNKNOWN_PEER]


def test_a_whole_address_nobody_has_used_says_the_peer_has_not_connected_yet() -> None:
    """A newcomer's first send to an agent set up but not started ('Bob (api)' while
    only 'Bob (proj)' and the sender 'Alice (proj)' exist): the refusal says a peer is
    known from its first connection, and offers Bob, never the sender itself."""
    bridge = pair()
    (error,) = errors(bridge.send(1, "Alice (api)"), 1)
    assert error.code == ErrorCode.UNKNOWN_PEER
    assert "known from its first connection to this bridge" in error.message
    assert ALICE not in (error.candidates or ())
    (bare,) = errors(bridge.send(1, "Bbo"), 1)
    assert "first connection" not in bare.message  # a typo of a name, not an address


# --- broadcast (§3.1) --------------------------------------------------------------------


def test_broadcast_writes_one_append_for_every_known_peer_but_the_sender() -> None:
    """* stores one message with an entry for each peer seen within retention, not the sender."""
    day = 86400.0
    bridge = Bridge(
        peers=[
            peer_record("Recent", START - 29 * day),
            peer_record("Ancient", START - 31 * day),
            peer_record("Other", START - day, project="elsewhere"),
        ],
        retention_s=30 * day,
    )
    bridge.join(1, "Alice")
    bridge.join(2, "Bob")
    actions = bridge.send(1, "*", "all hands", rid="b")
    (op,) = appends(actions)
    assert op.message.to == "*"
    expected = (BOB, addr("Other", "elsewhere"), addr("Recent"))
    assert op.recipients == expected
    done = bridge.settle()
    accepted = one(Accepted, done, 1)
    assert (accepted.to, accepted.recipients, accepted.online) == ("*", sorted(expected), [BOB])
    assert [d.body for d in delivers(done, 2)] == ["all hands"]
    assert [d.to for d in delivers(done, 2)] == ["*"]
    assert delivers(done, 1) == []


def test_broadcast_includes_an_online_peer_first_seen_long_ago() -> None:
    """An online peer gets broadcasts whatever its last_seen says."""
    bridge = Bridge(retention_s=100)
    bridge.join(1, "Alice")
    bridge.join(2, "Bob")
    bridge.now = START + 1_000
    (op,) = appends(bridge.send(1, "*"))
    assert op.recipients == (BOB,)


def test_broadcast_without_other_peers_is_refused() -> None:
    """A broadcast nobody would receive gets unknown_peer and nothing is stored."""
    bridge = Bridge(peers=[peer_record("Ancient", START - 500)], retention_s=100)
    bridge.join(1, "Alice")
    actions = bridge.send(1, "*", rid="lonely")
    (error,) = errors(actions, 1)
    assert (error.code, error.rid) == (ErrorCode.UNKNOWN_PEER, "lonely")
    assert persists(actions) == []


# --- limits (§5) -------------------------------------------------------------------------


def test_body_over_the_limit_is_refused() -> None:
    """A body over max_body_bytes (UTF-8 bytes) gets body_too_large; at the limit it passes."""
    bridge = pair(max_body_bytes=10)
    assert len(appends(bridge.send(1, BOB, "x" * 10))) == 1
    actions = bridge.send(1, BOB, "é" * 6, rid="big")
    (error,) = errors(actions, 1)
    assert (error.code, error.rid) == (ErrorCode.BODY_TOO_LARGE, "big")
    assert "12" in error.message
    assert appends(actions) == []


def test_context_over_the_limit_is_refused() -> None:
    """A context whose JSON is over max_context_bytes gets body_too_large."""
    bridge = pair(max_context_bytes=20)
    ok = bridge.send(1, BOB, context={"f": "a.py"})
    assert len(appends(ok)) == 1
    actions = bridge.send(1, BOB, context={"file": "x" * 30}, rid="ctx")
    (error,) = errors(actions, 1)
    assert (error.code, error.rid) == (ErrorCode.BODY_TOO_LARGE, "ctx")
    assert appends(actions) == []


# --- accepted after commit, deliver (§3.1, §3.2) ------------------------------------------


def test_accepted_comes_only_after_the_commit() -> None:
    """send yields a Persist only; Committed yields accepted to the sender and a deliver."""
    bridge = pair()
    actions = bridge.send(1, "bob", "hello", cid="c1", rid="r1", thread="t", reply_to="x")
    assert frames(actions) == []
    (persist,) = persists(actions)
    assert persist.origin is not None and persist.origin.conn == 1
    done = bridge.commit()
    accepted = one(Accepted, done, 1)
    assert accepted.model_dump() == {
        "type": "accepted",
        "rid": "r1",
        "cid": "c1",
        "id": "m1",
        "ts": START,
        "to": BOB,
        "recipients": [BOB],
        "online": [BOB],
        "duplicate": False,
        "paused": None,
    }
    deliver = one(Deliver, done, 2)
    assert (deliver.seq, deliver.id, deliver.from_, deliver.to) == (1, "m1", ALICE, BOB)
    assert (deliver.body, deliver.thread, deliver.reply_to, deliver.ts) == (
        "hello",
        "t",
        "x",
        START,
    )
    assert not [a for a in done if isinstance(a, LoadPending)]


def test_accepted_lists_offline_recipients_as_not_online() -> None:
    """accepted names every recipient; only connected ones are listed as online."""
    bridge = pair()
    bridge.disconnect(2)
    bridge.send(1, BOB)
    done = bridge.settle()
    accepted = one(Accepted, done, 1)
    assert (accepted.recipients, accepted.online) == ([BOB], [])
    assert delivers(done) == []


def test_accepted_is_dropped_when_the_sender_left_before_the_commit() -> None:
    """A sender gone before its commit gets no accepted; the recipient still gets the mail."""
    bridge = pair()
    bridge.send(1, BOB, "bye")
    bridge.disconnect(1)
    done = bridge.settle()
    assert [type(f).__name__ for f in frames(done)] == ["Deliver"]
    assert one(Deliver, done, 2).body == "bye"


def test_a_resend_with_the_same_cid_is_answered_as_a_duplicate_without_redelivery() -> None:
    """The same cid again is stored once: accepted duplicate=True, same id, no 2nd deliver."""
    bridge = pair()
    bridge.send(1, BOB, "once", cid="same", rid="a")
    first = one(Accepted, bridge.settle(), 1)
    actions = bridge.send(1, BOB, "once", cid="same", rid="b")
    done = bridge.settle()
    again = one(Accepted, done, 1)
    assert again.duplicate and not first.duplicate
    assert (again.rid, again.id, again.ts) == ("b", first.id, first.ts)
    assert again.recipients == [BOB]
    assert delivers(done) == []
    assert len(appends(actions)) == 1
    assert [p.tip for p in bridge.store.peers() if p.address == BOB] == [1]


def test_duplicate_in_the_same_batch_is_delivered_once() -> None:
    """Two sends with one cid in the same batch: one stored, one deliver, two accepted."""
    bridge = pair()
    bridge.send(1, BOB, "x", cid="dup", rid="a")
    bridge.send(1, BOB, "x", cid="dup", rid="b")
    done = bridge.settle()
    answers = [f for f in frames(done, 1) if isinstance(f, Accepted)]
    assert [(a.rid, a.duplicate) for a in answers] == [("a", False), ("b", True)]
    assert answers[0].id == answers[1].id
    assert [d.seq for d in delivers(done, 2)] == [1]


def test_per_sender_order_is_kept_for_each_recipient() -> None:
    """Messages from several senders arrive in commit order with gap-free seqs."""
    bridge = Bridge()
    bridge.join(1, "Alice")
    bridge.join(3, "Carol")
    bridge.join(2, "Bob")
    for i in range(4):
        bridge.send(1, BOB, f"a{i}")
        bridge.send(3, BOB, f"c{i}")
    got = delivers(bridge.settle(), 2)
    assert [d.seq for d in got] == list(range(1, 9))
    assert [d.body for d in got if d.from_ == ALICE] == ["a0", "a1", "a2", "a3"]
    assert [d.body for d in got if d.from_ == CAROL] == ["c0", "c1", "c2", "c3"]


# --- failures and reconnects -----------------------------------------------------------


def test_commit_failure_answers_every_origin_with_an_error() -> None:
    """A rolled-back batch answers each asker with internal and a hint to resend."""
    bridge = pair()
    bridge.send(1, BOB, cid="c1", rid="s1")
    bridge.send(1, BOB, cid="c2", rid="s2")
    bridge.send(2, ALICE, cid="c3", rid="s3")
    actions = bridge.fail_commit("disk full")
    assert delivers(actions) == []
    assert [(e.rid, e.code) for e in errors(actions, 1)] == [
        ("s1", ErrorCode.INTERNAL),
        ("s2", ErrorCode.INTERNAL),
    ]
    (other,) = errors(actions, 2)
    assert "disk full" in other.message
    assert "send it again" in other.hint and "same cid" in other.hint
    assert bridge.store.pending(BOB, 0, 10, 10_000) == []
    bridge.send(1, BOB, cid="c1", rid="retry")
    accepted = one(Accepted, bridge.settle(), 1)
    assert (accepted.rid, accepted.duplicate) == ("retry", False)


def test_commit_failure_skips_origins_that_left() -> None:
    """A failed batch sends nothing to an asker that already disconnected."""
    bridge = pair()
    bridge.send(1, BOB)
    bridge.disconnect(1)
    assert errors(bridge.fail_commit()) == []


def test_pending_loaded_for_a_vanished_connection_is_ignored() -> None:
    """A page that arrives after its connection closed produces nothing."""
    bridge = pair()
    bridge.disconnect(2)
    bridge.send(1, BOB)
    bridge.settle()
    bridge.hello(3, "Bob")
    bridge.disconnect(3)
    assert bridge.load() == []


def test_a_reconnecting_recipient_gets_its_unacked_backlog_again() -> None:
    """Unacked deliveries are sent again after a reconnect, from after the acked cursor."""
    bridge = pair()
    for i in range(1, 5):
        bridge.send(1, BOB, f"b{i}")
    first = delivers(bridge.settle(), 2)
    assert [d.seq for d in first] == [1, 2, 3, 4]
    bridge.ack(2, 2)
    bridge.disconnect(2)
    bridge.settle()
    welcome = one(Welcome, bridge.hello(3, "Bob"), 3)
    assert (welcome.acked, welcome.unread) == (2, 2)
    again = delivers(bridge.settle(), 3)
    assert [(d.seq, d.id, d.body) for d in again] == [
        (d.seq, d.id, d.body) for d in first if d.seq > 2
    ]


def test_the_backlog_survives_a_bridge_restart() -> None:
    """After a restart the router rebuilt from the store redelivers the unacked mail."""
    bridge = pair()
    for i in range(1, 4):
        bridge.send(1, BOB, f"b{i}")
    bridge.settle()
    bridge.ack(2, 1)
    bridge.settle()
    bridge.send(1, BOB, "never committed")
    bridge.restart()
    welcome = one(Welcome, bridge.hello(7, "Bob"), 7)
    assert (welcome.tip, welcome.acked, welcome.unread) == (3, 1, 2)
    assert [d.body for d in delivers(bridge.settle(), 7)] == ["b2", "b3"]
    bridge.hello(8, "Alice")
    bridge.send(8, BOB, "after restart")
    assert one(Accepted, bridge.settle(), 8).id not in {"m1", "m2", "m3"}
