"""The bridge's ``GET /metrics``: Prometheus text format, through prometheus-client.

The hot path stays cheap: the router's parts bump plain integers on one slotted
:class:`~ai_connect.bridge.state.Counts` where they already handle the message (one
``+= 1``, no allocation per message), and the server times each group commit into
:class:`CommitTimes` (per commit, not per message). Everything else (connections, peers,
mailbox depth, database size) is read when Prometheus scrapes, from the router's
:class:`~ai_connect.bridge.state.Census` and the store. The text is built from a private
``CollectorRegistry``: no global state.

Who may scrape (README "Metrics"): a client on the bridge's own machine (loopback),
and anyone presenting an admin token as ``Authorization: Bearer aic_…`` — the same rule
as the admin requests.
"""

from __future__ import annotations

import bisect
import hmac
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from http import HTTPStatus

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector
from websockets.asyncio.server import ServerConnection
from websockets.http11 import Request, Response

from ai_connect.bridge.auth import token_hash, token_id_of
from ai_connect.bridge.guard import is_loopback
from ai_connect.bridge.state import Census
from ai_connect.bridge.store.base import TokenRecord

__all__ = [
    "COMMIT_BUCKETS",
    "CONTENT_TYPE",
    "CommitTimes",
    "Scrape",
    "may_scrape",
    "render",
    "respond",
]

CONTENT_TYPE = CONTENT_TYPE_LATEST
COMMIT_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
"""Seconds: a group commit on SQLite FULL takes about 1-10 ms (bench/RESULTS.md)."""


class CommitTimes:
    """The commit-latency histogram, counted per group commit (not per message)."""

    __slots__ = ("buckets", "count", "total")

    def __init__(self) -> None:
        self.buckets = [0] * (len(COMMIT_BUCKETS) + 1)  # the last one: +Inf
        self.count = 0
        self.total = 0.0

    def observe(self, seconds: float) -> None:
        """One group commit took ``seconds``."""
        self.buckets[bisect.bisect_left(COMMIT_BUCKETS, seconds)] += 1
        self.count += 1
        self.total += seconds


@dataclass(frozen=True, slots=True)
class Scrape:
    """What one scrape reads: the router's census (with its counts), the commit times,
    the store's size."""

    version: str
    storage: str
    started_at: float
    census: Census
    commits: CommitTimes
    database_bytes: int | None


class _Collector(Collector):
    def __init__(self, scrape: Callable[[], Scrape]) -> None:
        self._scrape = scrape

    def collect(self) -> Iterator[Metric]:
        s = self._scrape()
        c, n, commits = s.census, s.census.counts, s.commits
        info = GaugeMetricFamily(
            "ai_connect_bridge_info", "The bridge's version and store", labels=["version", "store"]
        )
        info.add_metric([s.version, s.storage], 1)
        yield info
        yield GaugeMetricFamily(
            "ai_connect_bridge_start_time_seconds", "When the bridge started (Unix time)",
            value=s.started_at,
        )  # fmt: skip
        yield GaugeMetricFamily(
            "ai_connect_connections", "Open WebSocket connections", value=c.connections
        )
        yield GaugeMetricFamily(
            "ai_connect_peers_online", "Peers with a live owner connection", value=c.online
        )
        yield GaugeMetricFamily("ai_connect_peers_known", "Peers the bridge knows", value=c.known)
        yield CounterMetricFamily(
            "ai_connect_messages_accepted", "Messages stored and answered 'accepted'",
            value=n.accepted,
        )  # fmt: skip
        yield CounterMetricFamily(
            "ai_connect_messages_duplicate", "Resends answered from the stored message (dedup)",
            value=n.duplicates,
        )  # fmt: skip
        yield CounterMetricFamily(
            "ai_connect_messages_delivered",
            "deliver frames written to connections (redeliveries after a reconnect too)",
            value=n.delivered,
        )
        yield CounterMetricFamily(
            "ai_connect_messages_acked", "Mailbox entries acked: shown to their agent",
            value=n.acked,
        )  # fmt: skip
        yield GaugeMetricFamily(
            "ai_connect_mailbox_unread", "Mailbox entries not yet acked, all peers",
            value=c.unread,
        )  # fmt: skip
        yield GaugeMetricFamily(
            "ai_connect_mailbox_unread_max", "Unacked mailbox entries of the fullest peer",
            value=c.unread_max,
        )  # fmt: skip
        cumulative, total = [], 0
        for bound, count in zip((*COMMIT_BUCKETS, float("inf")), commits.buckets, strict=True):
            total += count
            cumulative.append((_bound(bound), total))
        yield HistogramMetricFamily(
            "ai_connect_commit_seconds",
            "Time of one group commit (one transaction for a loop turn's writes)",
            buckets=cumulative,
            sum_value=commits.total,
        )
        yield CounterMetricFamily(
            "ai_connect_rate_limited", "Times a connection was slowed to its rate limit",
            value=n.throttled,
        )  # fmt: skip
        refused = CounterMetricFamily(
            "ai_connect_refused",
            "error frames sent, by code (refused requests, bad frames, auth failures)",
            labels=["code"],
        )
        for code, count in sorted(n.refused.items()):
            refused.add_metric([code], count)
        yield refused
        if s.database_bytes is not None:
            yield GaugeMetricFamily(
                "ai_connect_database_bytes", "Size of the database (files, or as the store says)",
                value=s.database_bytes,
            )  # fmt: skip


def _bound(value: float) -> str:
    return "+Inf" if value == float("inf") else repr(value)


def render(scrape: Callable[[], Scrape]) -> bytes:
    """The metrics text of one scrape."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Collector(scrape))
    return generate_latest(registry)


def may_scrape(
    remote: str | None, authorization: str | None, tokens: Iterable[TokenRecord], now: float
) -> bool:
    """Loopback clients may; others need a valid admin token as a Bearer credential."""
    if remote is not None and is_loopback(remote):
        return True
    if not authorization or not authorization.startswith("Bearer "):
        return False
    token = authorization.removeprefix("Bearer ").strip()
    token_id = token_id_of(token)
    for record in tokens:
        if record.id != token_id or not record.admin or record.revoked is not None:
            continue
        if record.expires is not None and now >= record.expires:
            return False
        return hmac.compare_digest(record.hash, token_hash(token))
    return False


def respond(
    ws: ServerConnection,
    request: Request,
    scrape: Callable[[], Scrape],
    tokens: Iterable[TokenRecord],
    now: float,
) -> Response:
    """The HTTP answer to ``GET /metrics`` on the bridge's port (``BridgeServer._http``)."""
    remote = ws.remote_address[0] if ws.remote_address else None
    if not may_scrape(remote, request.headers.get("Authorization"), tokens, now):
        return ws.respond(
            HTTPStatus.FORBIDDEN,
            "ai-connect bridge: /metrics answers this machine (loopback) and admin tokens "
            "('Authorization: Bearer aic_...', from 'ai-connect token create NAME --admin')\n",
        )
    response = ws.respond(HTTPStatus.OK, render(scrape).decode())
    del response.headers["Content-Type"]  # a multidict: setting would add a second
    response.headers["Content-Type"] = CONTENT_TYPE
    return response
