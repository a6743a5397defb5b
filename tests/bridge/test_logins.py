"""Failed logins are counted per address and their refusals held longer and longer
(bridge/logins.py, issue 11 item 8): pure, time passed in; then through the router."""

from __future__ import annotations

from ai_connect.bridge.auth import new_token
from ai_connect.bridge.events import LoginFailed, Throttle
from ai_connect.bridge.logins import LoginLimiter, LoginPolicy
from ai_connect.protocol import Welcome

from .helpers import START, Bridge, addr, errors, one

ALICE_TOKEN, ALICE = new_token("alice", now=START)
WRONG = "aic_00000000_" + "x" * 43


def test_the_first_failures_are_answered_at_once_then_held_longer_up_to_the_cap() -> None:
    """free failures: no hold; then base, doubling, up to max_s."""
    limiter = LoginLimiter(LoginPolicy(free=2, base_s=0.5, max_s=4.0))
    holds = [limiter.failed("10.0.0.1", 0.0)[1] for _ in range(8)]
    assert holds == [0.0, 0.0, 0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    assert limiter.failures("10.0.0.1", 0.0) == 8


def test_one_address_does_not_slow_another() -> None:
    """Failures count per address: a fresh address starts at no hold."""
    limiter = LoginLimiter(LoginPolicy(free=1))
    for _ in range(10):
        limiter.failed("10.0.0.1", 0.0)
    assert limiter.failed("10.0.0.2", 0.0) == (1, 0.0)


def test_an_address_quiet_for_forget_s_starts_over() -> None:
    """No failure for forget_s: the count starts again from one."""
    limiter = LoginLimiter(LoginPolicy(free=1, forget_s=60.0))
    for t in range(5):
        limiter.failed("10.0.0.1", float(t))
    assert limiter.failed("10.0.0.1", 30.0)[0] == 6
    assert limiter.failures("10.0.0.1", 91.0) == 0
    assert limiter.failed("10.0.0.1", 91.0) == (1, 0.0)


def test_memory_stays_bounded_under_a_spray_of_addresses() -> None:
    """At most max_addresses are remembered; the least recent is forgotten first."""
    limiter = LoginLimiter(LoginPolicy(max_addresses=3))
    for i in range(10):
        limiter.failed(f"10.0.0.{i}", float(i))
    assert len(limiter) == 3
    assert limiter.failures("10.0.0.9", 9.0) == 1 and limiter.failures("10.0.0.0", 9.0) == 0


def test_the_router_reports_each_failed_login_with_its_address_and_hold() -> None:
    """A wrong token: LoginFailed (remote, name, reason, count, hold) before the refusal;
    past the free failures the hold grows and the connection is not read meanwhile."""
    bridge = Bridge(tokens=[ALICE])
    free = LoginPolicy().free
    seen: list[LoginFailed] = []
    for conn in range(1, free + 3):
        bridge.connect(conn, remote=f"203.0.113.7:{5000 + conn}")
        actions = bridge.hello(conn, "alice", token=WRONG)
        assert isinstance(actions[0], LoginFailed)
        seen.append(actions[0])
        assert errors(actions, conn)[0].code == "auth_failed"  # still refused, after the hold
        throttles = [a for a in actions if isinstance(a, Throttle)]
        assert not throttles  # the hold is the server's part (links.hold + throttle)
    first = seen[0]
    assert (first.remote, first.name, first.project) == ("203.0.113.7:5001", "alice", "proj")
    assert (first.reason, first.failures, first.hold_s) == ("wrong", 1, 0.0)
    assert [f.hold_s for f in seen[free:]] == [0.5, 1.0]


def test_a_good_login_and_another_address_are_never_held() -> None:
    """After many failures from one address, its valid token is welcomed with no
    LoginFailed, and a failure from another address is not held."""
    bridge = Bridge(tokens=[ALICE])
    for conn in range(1, 12):
        bridge.connect(conn, remote=f"203.0.113.7:{5000 + conn}")
        bridge.hello(conn, "alice", token=WRONG)
    bridge.connect(20, remote="203.0.113.7:6000")
    good = bridge.hello(20, "alice", token=ALICE_TOKEN)
    assert not [a for a in good if isinstance(a, LoginFailed)]
    assert one(Welcome, good, 20).address == addr("alice")
    bridge.connect(21, remote="198.51.100.1:7000")
    other = bridge.hello(21, "alice", token=WRONG)
    assert isinstance(other[0], LoginFailed) and other[0].hold_s == 0.0
    assert other[0].failures == 1
