"""Router: the observer feed (§9): snapshot, live events, and sending as a human."""

from __future__ import annotations

import dataclasses
from typing import Any

from ai_connect.bridge.auth import new_token
from ai_connect.bridge.brake import BrakeLimits
from ai_connect.bridge.core import CLOSE_AUTH
from ai_connect.bridge.events import TokensChanged
from ai_connect.bridge.feed import PREVIEW_CHARS, Mark, Unshown, context_summary
from ai_connect.bridge.store.base import TokenRecord
from ai_connect.protocol import (
    Accepted,
    Brakes,
    ErrorCode,
    FeedEvent,
    FeedSnapshot,
    PeerList,
    Presence,
    Welcome,
)

from .helpers import (
    START,
    Bridge,
    addr,
    closes,
    delivers,
    errors,
    frames,
    one,
    pair,
    persists,
)

ALICE, BOB, ADA = addr("Alice"), addr("Bob"), addr("Ada")
OPS_TOKEN, OPS = new_token("ops", ["ops"], admin=True, now=START)
ALICE_TOKEN, ALICE_RECORD = new_token("Alice", now=START)


def observe(bridge: Bridge, conn: int, name: str = "Ops", **fields: Any) -> FeedSnapshot:
    """Says an observe hello; returns the snapshot that follows its welcome."""
    actions = bridge.hello(conn, name, mode="observe", **fields)
    sent = frames(actions, conn)
    assert [type(f) for f in sent] == [Welcome, FeedSnapshot], sent
    snapshot = sent[1]
    assert isinstance(snapshot, FeedSnapshot)
    return snapshot


def events(actions: Any, conn: int, kind: str | None = None) -> list[FeedEvent]:
    found = [f for f in frames(actions, conn) if isinstance(f, FeedEvent)]
    return [e for e in found if kind in (None, e.kind)]


def test_an_observer_gets_a_snapshot_and_is_never_a_peer() -> None:
    """Snapshot: peers with presence and unread mail; no peer record, no presence join."""
    bridge = pair()
    bridge.join(3, "Carol", presence=True)
    bridge.send(2, ALICE, "one")
    bridge.send(2, ALICE, "two")
    bridge.settle()
    bridge.connect(9)
    actions = bridge.hello(9, "Ops", mode="observe")
    assert persists(actions) == []
    assert [f for f in frames(actions, 3) if isinstance(f, Presence)] == []
    snapshot = one(FeedSnapshot, actions, 9)
    peers = {p.address: (p.online, p.unread, p.connections) for p in snapshot.peers}
    assert peers == {ALICE: (True, 2, 1), BOB: (True, 0, 1), addr("Carol"): (True, 0, 1)}
    assert [(d.id, d.recipient, d.state, d.path) for d in snapshot.unshown] == [
        ("m1", ALICE, "delivered", "unknown"),
        ("m2", ALICE, "delivered", "unknown"),
    ]
    peers_seen = one(PeerList, bridge.frame(9, type="peers", rid="p"), 9).peers
    assert addr("Ops") not in [p.address for p in peers_seen]
    assert addr("Ops") not in bridge.router.online


def test_an_observer_sees_a_message_after_its_commit_then_its_delivery_and_ack() -> None:
    """message (after commit) -> delivered (to which connection kind) -> shown (ack path)."""
    bridge = Bridge()
    bridge.join(1, "Alice", client={"kind": "mcp"})
    bridge.join(2, "Bob", client={"kind": "mcp"})
    observe(bridge, 9)
    context = {"kind": "code", "file": "a.py", "lines": "1-3", "content": "x = 1\n"}
    sent = bridge.send(1, BOB, "b" * 1000, thread="t1", context=context)
    assert events(sent, 9) == []  # nothing before it is durable
    bridge.now += 1
    out = bridge.settle()
    got = events(out, 9)
    assert [e.kind for e in got] == ["message", "delivered"]
    message = got[0].message
    assert message is not None
    assert (message.id, message.from_, message.to, message.thread) == ("m1", ALICE, BOB, "t1")
    assert (len(message.preview), message.size, message.human) == (PREVIEW_CHARS + 1, 1000, False)
    assert message.context == {"kind": "code", "file": "a.py", "lines": "1-3", "bytes": 6}
    assert message.online == [BOB]
    delivered = got[1].delivery
    assert delivered is not None
    assert (delivered.id, delivered.recipient, delivered.state) == ("m1", BOB, "delivered")
    assert (delivered.path, delivered.conn, delivered.ts) == ("mcp", 2, START + 1)
    bridge.now += 2
    acked = bridge.ack(2, 1, path="hook")
    (shown,) = events(acked, 9, "shown")
    assert shown.delivery is not None
    assert (shown.delivery.id, shown.delivery.from_, shown.delivery.state) == ("m1", ALICE, "shown")
    assert (shown.delivery.path, shown.delivery.ts) == ("hook", START + 3)
    assert events(bridge.ack(2, 1, path="hook"), 9) == []  # once


def test_one_ack_shows_every_message_it_covers_and_a_broadcast_each_recipient() -> None:
    """A cumulative ack marks each covered message; a broadcast is marked per recipient."""
    bridge = pair()
    bridge.join(3, "Carol")
    observe(bridge, 9)
    bridge.send(1, "*", "all")
    bridge.send(1, BOB, "direct")
    out = bridge.settle()
    assert [
        (e.delivery.id, e.delivery.recipient) for e in events(out, 9, "delivered") if e.delivery
    ] == [
        ("m1", BOB),
        ("m1", addr("Carol")),
        ("m2", BOB),
    ]
    shown = events(bridge.ack(2, 2, path="tool"), 9, "shown")
    assert [(e.delivery.id, e.delivery.seq) for e in shown if e.delivery] == [("m1", 1), ("m2", 2)]
    shown = events(bridge.ack(3, 1, path="channel"), 9, "shown")
    assert [(e.delivery.recipient, e.delivery.path) for e in shown if e.delivery] == [
        (addr("Carol"), "channel")
    ]


def test_joins_and_leaves_reach_observers_with_unread_counts() -> None:
    """join and leave events carry the peer's presence, last seen and unread mail."""
    bridge = pair()
    observe(bridge, 9)
    bridge.join(3, "Carol")
    bridge.now += 5
    out = bridge.disconnect(2)
    (leave,) = events(out, 9, "leave")
    assert leave.peer is not None
    assert (leave.peer.address, leave.peer.online, leave.peer.last_seen) == (BOB, False, START + 5)
    bridge.hello(3, "Carol")  # already registered: refused, no event
    out = bridge.hello(4, "Dan")
    (join,) = events(out, 9, "join")
    assert join.peer is not None and join.peer.address == addr("Dan")


def test_proposals_votes_and_verdicts_reach_observers_after_commit() -> None:
    """Each stored change of a proposal is one event saying what changed; the snapshot
    lists the open ones with their ballots."""
    bridge = pair()
    bridge.join(3, "Carol")
    observe(bridge, 9)
    bridge.frame(1, type="propose", rid="p", participants=["Bob", "Carol"], question="merge?")
    (proposed,) = events(bridge.settle(), 9, "proposal")
    assert proposed.change == "proposed" and proposed.proposal is not None
    pid = proposed.proposal["id"]
    assert [p["id"] for p in observe(bridge, 8).proposals] == [pid]
    bridge.frame(2, type="vote", rid="v", proposal=pid, choice="approve")
    (voted,) = events(bridge.settle(), 9, "proposal")
    assert voted.change == "voted" and voted.proposal is not None
    assert [b["voter"] for b in voted.proposal["ballots"]] == [BOB]
    bridge.frame(3, type="vote", rid="v", proposal=pid, choice="approve")
    (decided,) = events(bridge.settle(), 9, "proposal")
    assert decided.change == "decided"
    assert observe(bridge, 7).proposals == []
    bridge.frame(1, type="propose", rid="q", participants=["Bob"], question="again?")
    (second,) = events(bridge.settle(), 9, "proposal")
    assert second.proposal is not None
    bridge.frame(1, type="withdraw", rid="w", proposal=second.proposal["id"])
    (withdrawn,) = events(bridge.settle(), 9, "proposal")
    assert withdrawn.change == "withdrawn"


def test_an_observer_may_not_ack_and_gets_no_mail() -> None:
    """ack from an observer is forbidden; broadcasts do not count it as a recipient."""
    bridge = pair()
    observe(bridge, 9)
    (error,) = errors(bridge.ack(9, 1, rid="a"), 9)
    assert error.code == ErrorCode.FORBIDDEN and "observer" in error.hint
    bridge.send(1, "*", "all")
    out = bridge.settle()
    assert one(Accepted, out, 1).recipients == [BOB]
    assert delivers(out, 9) == []


def test_an_observer_sends_as_a_human_and_agents_can_answer() -> None:
    """send with as: stored from Name (project) flagged human; the reply reaches its
    mailbox, and the observer sees both."""
    bridge = pair()
    observe(bridge, 9)
    bridge.send(9, BOB, "please stop", **{"as": "Ada"})
    out = bridge.settle()
    accepted = one(Accepted, out, 9)
    (deliver,) = delivers(out, 2)
    assert (deliver.from_, deliver.human, accepted.to) == (ADA, True, BOB)
    (message,) = events(out, 9, "message")
    assert message.message is not None and message.message.human
    bridge.send(2, ADA, "ok, stopping")
    out = bridge.settle()
    assert one(Accepted, out, 2).recipients == [ADA]
    (reply,) = events(out, 9, "message")
    assert reply.message is not None and not reply.message.human
    bridge.restart()  # the human mark is stored
    bridge.join(2, "Bob", address=BOB)
    assert bridge.store.pending(BOB, 0, 10, 1 << 20)[0].message.human


def test_sending_as_someone_is_for_observers_only_and_never_as_a_live_peer() -> None:
    """as on a peer connection: forbidden; as the name of a live peer: address_in_use."""
    bridge = pair()
    (error,) = errors(bridge.send(1, BOB, "x", **{"as": "Ada"}), 1)
    assert error.code == ErrorCode.FORBIDDEN
    observe(bridge, 9)
    (error,) = errors(bridge.send(9, BOB, "x", **{"as": "Alice"}), 9)
    assert error.code == ErrorCode.ADDRESS_IN_USE
    bridge.send(9, BOB, "as myself")
    (deliver,) = delivers(bridge.settle(), 2)
    assert deliver.from_ == addr("Ops") and deliver.human


def test_a_human_send_counts_as_human_input_for_the_loop_brake() -> None:
    """A send as a human resumes the recipient's paused conversations (§3.6)."""
    bridge = Bridge(brake=BrakeLimits(hops=2, per_minute=100))
    bridge.join(1, "Alice", client={"kind": "mcp"})
    bridge.join(2, "Bob", client={"kind": "mcp"})
    for _ in range(3):
        bridge.send(1, BOB, "again")
        bridge.send(2, ALICE, "again")
    bridge.settle()
    observe(bridge, 9)
    paused = one(Brakes, bridge.frame(9, type="admin_brakes", rid="b"), 9).paused
    assert paused
    bridge.send(9, BOB, "carry on", **{"as": "Ada"})
    bridge.settle()
    assert one(Brakes, bridge.frame(9, type="admin_brakes", rid="b"), 9).paused == []


def secured(*records: TokenRecord) -> Bridge:
    bridge = Bridge(tokens=records, require_auth=True)
    bridge.join(1, "Alice", token=ALICE_TOKEN)
    return bridge


def test_with_auth_an_observer_needs_an_admin_token_but_no_name() -> None:
    """No token, or a peer's token: auth_failed; an admin token observes under any name."""
    bridge = secured(ALICE_RECORD, OPS)
    for conn, token in ((5, None), (6, ALICE_TOKEN)):
        out = bridge.hello(conn, "Alice", mode="observe", token=token)
        (error,) = errors(out, conn)
        assert error.code == ErrorCode.AUTH_FAILED
        assert [f for f in frames(out, conn) if isinstance(f, FeedSnapshot)] == []
    snapshot = observe(bridge, 7, "Watcher", token=OPS_TOKEN)
    assert [p.address for p in snapshot.peers] == [ALICE]


def test_revoking_an_observers_token_closes_it() -> None:
    """The feed stops with the grant: revoked admin token -> auth_failed and close 4001."""
    bridge = secured(ALICE_RECORD, OPS)
    observe(bridge, 7, "Watcher", token=OPS_TOKEN)
    revoked = dataclasses.replace(OPS, revoked=START)
    out = bridge.handle(TokensChanged((ALICE_RECORD, revoked), START))
    assert [c.code for c in closes(out) if c.conn == 7] == [CLOSE_AUTH]
    bridge.send(1, ALICE, "still there?")
    assert events(bridge.settle(), 7) == []


def test_without_auth_an_observer_may_use_the_admin_requests() -> None:
    """Auth off: the operator's view may read any history (a query may not)."""
    bridge = pair()
    observe(bridge, 9)
    assert errors(bridge.frame(9, type="admin_status", rid="s"), 9) == []


def test_unshown_replaces_the_mark_of_a_forgotten_mailbox() -> None:
    """A seq reused by a new mailbox of the same address gets its new message's mark."""
    unshown = Unshown()
    assert unshown.delivered("a", 1, Mark("m1", "b", 1.0, "mcp", 1))
    assert not unshown.delivered("a", 1, Mark("m1", "b", 2.0, "mcp", 2))
    assert unshown.delivered("a", 1, Mark("m9", "b", 3.0, "mcp", 3))
    assert [(s, m.id) for s, m in unshown.shown("a", 5)] == [(1, "m9")]
    assert unshown.shown("a", 5) == []


def test_a_context_summary_keeps_facts_never_content() -> None:
    """The summary lists file, lines, repo and the size; other keys by name only."""
    summary = context_summary({"file": "x", "content": "ééé", "secret": {"a": 1}, "lines": 3})
    assert summary == {"file": "x", "lines": 3, "bytes": 6, "keys": ["secret"]}
    assert context_summary(None) is None


def test_unshown_takes_covered_marks_in_seq_order_even_out_of_order() -> None:
    """An ack takes exactly the marks up to its seq, in order, whatever the insertion order."""
    unshown = Unshown()
    for seq in (5, 6, 7):
        unshown.delivered("a", seq, Mark(f"m{seq}", "b", 1.0, "mcp", 1))
    unshown.delivered("a", 1, Mark("new1", "b", 2.0, "mcp", 1))  # a mailbox started anew
    assert [(s, m.id) for s, m in unshown.shown("a", 5)] == [(1, "new1"), (5, "m5")]
    assert [s for s, _ in unshown.shown("a", 9)] == [6, 7]
