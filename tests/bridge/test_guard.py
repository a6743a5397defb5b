"""Token buckets, connection counters and the error budget (bridge/guard.py): pure, time
passed in."""

from __future__ import annotations

import pytest

from ai_connect.bridge.guard import Bucket, ErrorBudget, Guard, ip_of, is_loopback
from ai_connect.protocol import Limits


def test_a_bucket_allows_its_burst_then_asks_to_wait() -> None:
    """burst frames pass at once; the next one asks for 1/rate seconds of pause."""
    bucket = Bucket.full(rate=10, burst=3, now=0.0)
    assert [bucket.draw(0.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert bucket.draw(0.0) == pytest.approx(0.1)
    assert bucket.draw(0.0) == pytest.approx(0.2)


def test_a_bucket_refills_at_its_rate_up_to_its_burst() -> None:
    """After a pause the bucket has refilled; a long pause refills only up to burst."""
    bucket = Bucket.full(rate=10, burst=2, now=0.0)
    bucket.draw(0.0), bucket.draw(0.0), bucket.draw(0.0)
    assert bucket.draw(0.2) == 0.0
    bucket = Bucket.full(rate=10, burst=2, now=0.0)
    assert [bucket.draw(100.0) for _ in range(3)][-1] > 0


def test_rate_zero_means_no_limit() -> None:
    """A bucket with rate 0 never asks to wait."""
    bucket = Bucket.full(rate=0, burst=1, now=0.0)
    assert all(bucket.draw(0.0) == 0.0 for _ in range(10_000))


@pytest.mark.parametrize(
    ("remote", "ip", "loopback"),
    [
        ("127.0.0.1:5000", "127.0.0.1", True),
        ("::1:5000", "::1", True),
        ("[::1]:5000", "::1", True),
        ("10.1.2.3:80", "10.1.2.3", False),
        ("2001:db8::1:443", "2001:db8::1", False),
        ("?", "?", False),
    ],
)
def test_ips_are_read_from_remote_addresses(remote: str, ip: str, loopback: bool) -> None:
    """The IP part of a remote address, and whether it is loopback."""
    assert ip_of(remote) == ip
    assert is_loopback(ip) is loopback


def test_connections_per_ip_are_capped_except_loopback() -> None:
    """A non-loopback IP gets max_conns_per_ip connections; loopback is not counted."""
    guard = Guard(Limits(max_conns_per_ip=2))
    assert guard.connect(1, "10.0.0.1:1", 0.0) and guard.connect(2, "10.0.0.1:2", 0.0)
    assert not guard.connect(3, "10.0.0.1:3", 0.0)
    assert guard.connect(4, "10.0.0.2:1", 0.0)
    assert all(guard.connect(10 + i, f"127.0.0.1:{i}", 0.0) for i in range(10))
    guard.disconnect(1)
    assert guard.connect(5, "10.0.0.1:5", 0.0)


def test_connections_per_token_are_capped() -> None:
    """room_for says no once a token has max_conns_per_token connections."""
    guard = Guard(Limits(max_conns_per_token=2))
    for conn in (1, 2):
        assert guard.room_for("t")
        guard.connect(conn, "127.0.0.1:1", 0.0)
        guard.bind(conn, "t", 0.0)
    assert not guard.room_for("t") and guard.room_for("u")
    guard.disconnect(1)
    assert guard.room_for("t") and guard.connections_of("t") == 1


def test_a_token_bucket_is_shared_by_its_connections() -> None:
    """Two connections of one token together exhaust the token's bucket."""
    limits = Limits(rate_per_s=0, token_rate_per_s=10, token_rate_burst=4)
    guard = Guard(limits)
    for conn in (1, 2):
        guard.connect(conn, "127.0.0.1:1", 0.0)
        guard.bind(conn, "t", 0.0)
    draws = [guard.draw(1, 0.0), guard.draw(2, 0.0), guard.draw(1, 0.0), guard.draw(2, 0.0)]
    assert draws == [0.0] * 4
    assert guard.draw(1, 0.0) > 0 and guard.throttled == 1
    guard.forget_tokens(set())
    assert guard.draw(2, 0.0) == 0.0  # a deleted token's bucket is gone


def test_the_error_budget_closes_past_max_errors_within_the_window() -> None:
    """max_errors errors pass; the next within error_window_s says why to close."""
    budget = ErrorBudget(Limits(max_errors=2, error_window_s=10))
    assert [budget.charge(1, t) for t in (0.0, 1.0)] == [None, None]
    assert budget.charge(2, 1.0) is None  # each connection has its own budget
    assert budget.charge(1, 2.0) == "more than 2 errors in 10 s"


def test_old_errors_leave_the_window_and_a_gone_connection_is_forgotten() -> None:
    """Errors older than the window stop counting; forget() starts a connection afresh."""
    budget = ErrorBudget(Limits(max_errors=1, error_window_s=10))
    assert budget.charge(1, 0.0) is None
    assert budget.charge(1, 10.5) is None
    assert budget.charge(1, 11.0) is not None
    budget.forget(1)
    assert budget.charge(1, 11.0) is None
