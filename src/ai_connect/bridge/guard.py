"""Rate, connection and error limits: token buckets and counters (docs/protocol.md §5, §5.1).

Pure: the time comes with each call. The router asks the :class:`Guard` three things:
may a new connection from this IP open (:meth:`Guard.connect`), may one more connection
use this token (:meth:`Guard.room_for`), and how long must the bridge stop reading a
connection after this frame (:meth:`Guard.draw`).

Rate limiting *shapes* rather than drops: every frame read is processed, but a connection
whose bucket (its own, or its token's) runs dry is not read again until the bucket is
back at zero, so its own kernel buffers hold the excess and its writes block (TCP
backpressure). A flooder is slowed to the configured rate and told so; it cannot make
the bridge buffer more than the few frames already read, and others keep being served.

A frame costs what it makes the bridge write: one token, or one per mailbox entry it
stores. A broadcast to 200 peers costs 200, so a connection broadcasting at its frame
rate is slowed to its rate in *mailbox entries*, as a sender of direct messages is, and
the others' deliveries do not queue behind 40,000 entries a second (issue 11).

Errors are different: a connection that keeps sending what the bridge must refuse is
broken or hostile, so its :class:`ErrorBudget` closes it after ``max_errors`` refusals
within ``error_window_s``.
"""

from __future__ import annotations

import functools
import ipaddress
from collections import Counter, deque
from dataclasses import dataclass

from ai_connect.protocol import Limits

__all__ = ["Bucket", "ErrorBudget", "Guard", "ip_of", "is_loopback"]


@dataclass(slots=True)
class Bucket:
    """A token bucket: ``rate`` tokens per second, at most ``burst`` saved up.

    ``draw`` takes one token and may leave the level below zero (a debt): the caller
    waits ``-level / rate`` seconds before the next draw. ``rate <= 0`` means no limit.
    """

    rate: float
    burst: float
    level: float
    last: float

    @classmethod
    def full(cls, rate: float, burst: float, now: float) -> Bucket:
        return cls(rate, max(1.0, burst), max(1.0, burst), now)

    def draw(self, now: float, cost: float = 1.0) -> float:
        """Takes ``cost`` tokens; returns the seconds to wait before the next (0: none)."""
        if self.rate <= 0:
            return 0.0
        self.level = min(self.burst, self.level + max(0.0, now - self.last) * self.rate)
        self.last = now
        self.level -= cost
        return -self.level / self.rate if self.level < 0 else 0.0


def ip_of(remote: str) -> str:
    """The IP of a ``HOST:PORT`` remote (``[v6]:port`` and ``v6:port`` both work)."""
    host = remote.rsplit(":", 1)[0] if ":" in remote else remote
    return host.strip("[]")


@functools.lru_cache(maxsize=1024)
def is_loopback(host: str) -> bool:
    """Whether ``host`` is a loopback IP or ``localhost`` (remembered: asked once per
    connection, and parsing an address costs more than a registration's routing)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class Guard:
    """Counts connections per IP and per token, and keeps their rate buckets.

    Loopback connections are not counted per IP: they come from the bridge's own
    machine, whose users are bounded by the per-token limits once auth is on.
    """

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self._ip_of: dict[int, str] = {}
        self._per_ip: Counter[str] = Counter()
        self._token_of: dict[int, str] = {}
        self._per_token: Counter[str] = Counter()
        self._conn_buckets: dict[int, Bucket] = {}
        self._token_buckets: dict[str, Bucket] = {}
        self.throttled = 0
        """Frames after which a connection was paused (for the admin report)."""

    def connect(self, conn: int, remote: str, now: float) -> bool:
        """Counts a new connection; ``False`` (not counted) if its IP is at the limit."""
        ip = ip_of(remote)
        limit = self.limits.max_conns_per_ip
        if not is_loopback(ip):
            if limit > 0 and self._per_ip[ip] >= limit:
                return False
            self._ip_of[conn] = ip
            self._per_ip[ip] += 1
        limits = self.limits
        self._conn_buckets[conn] = Bucket.full(limits.rate_per_s, limits.rate_burst, now)
        return True

    def disconnect(self, conn: int) -> None:
        ip = self._ip_of.pop(conn, None)
        if ip is not None:
            self._per_ip[ip] -= 1
            if self._per_ip[ip] <= 0:
                del self._per_ip[ip]
        self.unbind(conn)
        self._conn_buckets.pop(conn, None)

    def room_for(self, token_id: str) -> bool:
        """Whether one more connection may use ``token_id``."""
        limit = self.limits.max_conns_per_token
        return limit <= 0 or self._per_token[token_id] < limit

    def bind(self, conn: int, token_id: str, now: float) -> None:
        """Counts ``conn`` against ``token_id`` (call after :meth:`room_for`)."""
        self.unbind(conn)
        self._token_of[conn] = token_id
        self._per_token[token_id] += 1
        if token_id not in self._token_buckets:
            limits = self.limits
            self._token_buckets[token_id] = Bucket.full(
                limits.token_rate_per_s, limits.token_rate_burst, now
            )

    def unbind(self, conn: int) -> None:
        token_id = self._token_of.pop(conn, None)
        if token_id is not None:
            self._per_token[token_id] -= 1
            if self._per_token[token_id] <= 0:
                del self._per_token[token_id]

    def draw(self, conn: int, now: float, cost: int = 1) -> float:
        """One frame from ``conn`` that wrote ``cost`` mailbox entries (at least 1): the
        seconds to stop reading it afterwards (0: none)."""
        cost = max(1, cost)
        bucket = self._conn_buckets.get(conn)
        wait = bucket.draw(now, cost) if bucket is not None else 0.0
        token_id = self._token_of.get(conn)
        shared = self._token_buckets.get(token_id) if token_id is not None else None
        if shared is not None:
            wait = max(wait, shared.draw(now, cost))
        if wait > 0:
            self.throttled += 1
        return wait

    def connections_of(self, token_id: str) -> int:
        return self._per_token[token_id]

    def forget_tokens(self, live: set[str]) -> None:
        """Drops the buckets of tokens that no longer exist (memory stays bounded)."""
        for token_id in [t for t in self._token_buckets if t not in live]:
            del self._token_buckets[token_id]


class ErrorBudget:
    """Counts the error frames each connection is answered with, within a sliding window."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self._seen: dict[int, deque[float]] = {}

    def charge(self, conn: int, now: float) -> str | None:
        """One more error frame for ``conn``: why to close it if that spent its budget."""
        limits = self.limits
        seen = self._seen.setdefault(conn, deque())
        seen.append(now)
        while seen and seen[0] < now - limits.error_window_s:
            seen.popleft()
        if len(seen) > limits.max_errors:
            return f"more than {limits.max_errors} errors in {limits.error_window_s:g} s"
        return None

    def forget(self, conn: int) -> None:
        """``conn`` is gone."""
        self._seen.pop(conn, None)
