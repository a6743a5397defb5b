"""Read-only requests: peers, history, search, status and the admin views (§3.4, §3.5, §4).

A part of :class:`~ai_connect.bridge.core.Router`: it reads the
:class:`~ai_connect.bridge.state.Registry` and, for the admin report, the auth and guard
it is given; the store answers history and search (``QueryHistory``/``QuerySearch``).
"""

from __future__ import annotations

from ai_connect.bridge.auth import Authenticator
from ai_connect.bridge.events import Action, QueryHistory, QuerySearch, Send
from ai_connect.bridge.guard import Guard
from ai_connect.bridge.refusal import Refusal
from ai_connect.bridge.state import Conn, Registry, RouterConfig
from ai_connect.bridge.views import peer_view
from ai_connect.protocol import (
    AdminHistory,
    AdminSearch,
    AdminStatus,
    BridgeReport,
    ErrorCode,
    History,
    NodeDetail,
    PeerDetail,
    PeerList,
    Peers,
    Rid,
    Search,
    Status,
    StatusReport,
)

__all__ = ["Queries"]


class Queries:
    """Answers questions about peers and messages; the store runs the message queries."""

    def __init__(
        self, config: RouterConfig, registry: Registry, auth: Authenticator, guard: Guard
    ) -> None:
        self.config = config
        self.registry = registry
        self.auth = auth
        self.guard = guard

    # --- peers and messages (§3.4, §4) -------------------------------------------------

    def on_peers(self, conn: Conn, frame: Peers, now: float) -> list[Action]:
        """Online peers first, then (if asked) the offline ones, each by address."""
        shown = [peer_view(p, now) for p in self.registry.listed(frame.include_offline)]
        return [Send(conn.id, PeerList(rid=frame.rid, peers=shown))]

    def on_history(self, conn: Conn, frame: History, now: float) -> list[Action]:
        assert conn.address is not None
        peer = self.registry.resolve(frame.peer) if frame.peer is not None else None
        limits = self.config.limits
        limit = min(frame.limit, limits.history_max)
        return [
            QueryHistory(
                conn.id, frame.rid, conn.address, peer, limit, frame.before, limits.page_bytes
            )
        ]

    def on_search(self, conn: Conn, frame: Search, now: float) -> list[Action]:
        assert conn.address is not None
        limits = self.config.limits
        limit = min(frame.limit, limits.search_max)
        return [
            QuerySearch(
                conn.id,
                frame.rid,
                conn.address,
                frame.query,
                limit,
                frame.before,
                limits.page_bytes,
            )
        ]

    def on_status(self, conn: Conn, frame: Status, now: float) -> list[Action]:
        assert conn.address is not None
        peer = self.registry.peers.get(conn.address)  # None: a query connection (§2.4)
        tip, acked = (peer.tip, peer.acked) if peer is not None else (0, 0)
        report = StatusReport(
            rid=frame.rid,
            address=conn.address,
            server=self.config.server_version,
            storage=self.config.storage,
            uptime_s=max(0.0, now - self.config.started_at),
            peers_online=sum(1 for p in self.registry.peers.values() if p.conn is not None),
            peers_known=len(self.registry.peers),
            unread=tip - acked,
            tip=tip,
            acked=acked,
        )
        return [Send(conn.id, report)]

    # --- admin (§3.5, docs/security.md) ------------------------------------------------

    def on_admin(
        self, conn: Conn, frame: AdminStatus | AdminHistory | AdminSearch, now: float
    ) -> list[Action]:
        """Observer requests (§3.5): admin tokens only."""
        if not conn.admin:
            raise Refusal(
                ErrorCode.FORBIDDEN,
                f"{frame.type} is for admin tokens only",
                "connect with a token made by 'ai-connect token create NAME --admin'",
            )
        if isinstance(frame, AdminStatus):
            return [Send(conn.id, self._report(frame.rid, now))]
        viewer = self.registry.resolve(frame.viewer)
        limits = self.config.limits
        if isinstance(frame, AdminSearch):
            limit = min(frame.limit, limits.search_max)
            return [
                QuerySearch(
                    conn.id, frame.rid, viewer, frame.query, limit, frame.before, limits.page_bytes
                )
            ]
        peer = self.registry.resolve(frame.peer) if frame.peer else None
        limit = min(frame.limit, limits.history_max)
        return [
            QueryHistory(conn.id, frame.rid, viewer, peer, limit, frame.before, limits.page_bytes)
        ]

    def _report(self, rid: Rid, now: float) -> BridgeReport:
        registry = self.registry
        details = []
        for p in registry.listed():
            owner = registry.owner(p.address)
            details.append(
                PeerDetail(
                    address=p.address,
                    online=p.online,  # here, or on another node (bridge/cluster.py)
                    last_seen=now if p.online else p.last_seen,
                    tip=p.tip,
                    acked=p.acked,
                    connections=len(registry.conns_of(p)),
                    token=owner.token_name if owner is not None else None,
                    remote=owner.remote if owner is not None else None,
                )
            )
        return BridgeReport(
            rid=rid,
            server=self.config.server_version,
            storage=self.config.storage,
            uptime_s=max(0.0, now - self.config.started_at),
            auth=self.auth.required,
            connections=len(registry.conns),
            nodes=[
                NodeDetail(
                    node=node,
                    url=url,
                    beat_age_s=age,
                    sessions=sessions,
                    alive=age <= self.config.presence_timeout_s,
                    this=this,
                )
                for node, url, age, sessions, this in registry.nodes
            ],
            throttled=self.guard.throttled,
            peers=details,
        )
