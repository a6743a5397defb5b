"""Rate limits in the router (§5.1): shaping by Throttle, one notice, nothing dropped."""

from __future__ import annotations

from ai_connect.bridge.auth import new_token
from ai_connect.bridge.events import Action, Throttle
from ai_connect.protocol import Accepted, Limits, Pong

from .helpers import START, Bridge, errors, frames


def throttles(actions: list[Action], conn: int) -> list[float]:
    """The pauses the router asked for on ``conn``."""
    return [a.seconds for a in actions if isinstance(a, Throttle) and a.conn == conn]


def test_a_connection_within_its_burst_is_not_throttled() -> None:
    """Frames up to the burst pass with no Throttle and no notice."""
    bridge = Bridge(limits=Limits(rate_per_s=10, rate_burst=5))
    bridge.join(1, "alice")  # the hello is frame 1
    out: list[Action] = []
    for _ in range(4):
        out += bridge.frame(1, type="ping", rid="p")
    assert throttles(out, 1) == [] and errors(out, 1) == []


def test_a_flooding_connection_is_paused_told_once_and_still_served() -> None:
    """Over the burst: every frame is processed, a Throttle follows it, one rate_limited notice."""
    bridge = Bridge(limits=Limits(rate_per_s=10, rate_burst=2))
    bridge.join(1, "alice")
    out: list[Action] = []
    for i in range(5):
        out += bridge.frame(1, type="ping", rid=i)
    assert [f.rid for f in frames(out, 1) if isinstance(f, Pong)] == [0, 1, 2, 3, 4]
    assert len(throttles(out, 1)) == 4 and throttles(out, 1)[-1] > throttles(out, 1)[0]
    notices = errors(out, 1)
    assert [(e.code, e.rid) for e in notices] == [("rate_limited", None)]
    assert "10 frames/s" in notices[0].message and "nothing was dropped" in notices[0].hint


def test_the_notice_repeats_at_most_once_a_second() -> None:
    """A connection that stays over its rate is told again only after a second."""
    bridge = Bridge(limits=Limits(rate_per_s=10, rate_burst=1))
    bridge.join(1, "alice")
    out: list[Action] = []
    for i in range(30):
        bridge.now = START + i * 0.05  # 20 frames/s, twice the rate, for 1.5 s
        out += bridge.frame(1, type="ping")
    assert [e.code for e in errors(out, 1)] == ["rate_limited", "rate_limited"]


def test_sends_over_the_rate_are_all_accepted() -> None:
    """Shaping drops nothing: every send of a flooder is stored and accepted."""
    bridge = Bridge(limits=Limits(rate_per_s=5, rate_burst=3))
    bridge.join(1, "alice")
    bridge.join(2, "bob")
    out: list[Action] = []
    for _ in range(20):
        out += bridge.send(1, "bob")
    out += bridge.settle()
    assert len([f for f in frames(out, 1) if isinstance(f, Accepted)]) == 20
    assert throttles(out, 1)


def test_other_connections_keep_their_own_budget() -> None:
    """One connection over its rate does not throttle another."""
    bridge = Bridge(limits=Limits(rate_per_s=10, rate_burst=2))
    bridge.join(1, "alice")
    bridge.join(2, "bob")
    for _ in range(10):
        bridge.frame(1, type="ping")
    assert throttles(bridge.frame(2, type="ping"), 2) == []


def test_the_token_bucket_spans_the_tokens_connections() -> None:
    """With auth on, connections of one token share its budget and its notice says so."""
    token, record = new_token("alice", now=START)
    limits = Limits(rate_per_s=0, token_rate_per_s=10, token_rate_burst=4)
    bridge = Bridge(tokens=(record,), limits=limits)
    bridge.join(1, "alice", token=token, session="a")
    bridge.join(2, "alice", token=token, session="b")
    out = bridge.frame(1, type="ping") + bridge.frame(2, type="ping") + bridge.frame(1, type="ping")
    assert throttles(out, 1) and "its token" in errors(out, 1)[0].message


def test_a_broadcast_costs_its_sender_one_frame_per_recipient() -> None:
    """`*` to 20 peers spends 20 of the budget: the third broadcast is paused, as 60 direct
    sends would be, while 3 direct sends pass; the wait grows with the fan-out."""

    def crowd() -> Bridge:
        bridge = Bridge(limits=Limits(rate_per_s=10, rate_burst=50))
        bridge.join(1, "alice")
        for conn in range(2, 22):
            bridge.join(conn, f"peer{conn}")
        return bridge

    direct = crowd()
    out: list[Action] = []
    for _ in range(3):
        out += direct.send(1, "peer2")
    assert throttles(out, 1) == []

    broadcasts = crowd()
    out = []
    for _ in range(3):
        out += broadcasts.send(1, "*")
    paused = throttles(out, 1)
    assert len(paused) == 1 and paused[0] >= 1.0  # 60 - 50 entries at 10/s
    assert [e.code for e in errors(out, 1)] == ["rate_limited"]
    assert "once per recipient" in errors(out, 1)[0].message
    out = broadcasts.settle()
    assert len([f for f in frames(out, 1) if isinstance(f, Accepted)]) == 3  # nothing dropped
