"""Read-only requests: history, status and the admin views (§3.4, §3.5).

A mixin of :class:`~ai_connect.bridge.core.Router`: it works on the state declared in
:mod:`ai_connect.bridge.state`.
"""

from __future__ import annotations

from ai_connect import identity
from ai_connect.bridge.events import Action, QueryHistory, Send
from ai_connect.bridge.state import _Conn, _RouterState
from ai_connect.errors import UnknownPeer
from ai_connect.protocol import (
    AdminHistory,
    AdminStatus,
    BridgeReport,
    ErrorCode,
    History,
    PeerDetail,
    Rid,
    Status,
    StatusReport,
)

__all__: list[str] = []


class _Queries(_RouterState):
    """Answers questions about peers and messages; the store runs the history queries."""

    # --- queries (§3.4) ---------------------------------------------------------------

    def _on_history(self, state: _Conn, frame: History, now: float, out: list[Action]) -> None:
        assert state.address is not None
        peer: str | None = None
        if frame.peer is not None:
            try:
                peer = identity.resolve(frame.peer, self._peers.keys())
            except UnknownPeer as exc:
                self._error(
                    state,
                    now,
                    out,
                    exc.code,
                    exc.message,
                    exc.hint,
                    frame.rid,
                    list(exc.candidates),
                )
                return
        limit = min(frame.limit, self.config.limits.history_max)
        out.append(QueryHistory(state.id, frame.rid, state.address, peer, limit, frame.before))

    def _on_status(self, state: _Conn, frame: Status, now: float, out: list[Action]) -> None:
        assert state.address is not None
        peer = self._peers[state.address]
        out.append(
            Send(
                state.id,
                StatusReport(
                    rid=frame.rid,
                    address=peer.address,
                    server=self.config.server_version,
                    storage=self.config.storage,
                    uptime_s=max(0.0, now - self.config.started_at),
                    peers_online=sum(1 for p in self._peers.values() if p.conn is not None),
                    peers_known=len(self._peers),
                    unread=peer.tip - peer.acked,
                    tip=peer.tip,
                    acked=peer.acked,
                ),
            )
        )

    # --- admin (§3.5, docs/security.md) ------------------------------------------------

    def _on_admin(
        self, state: _Conn, frame: AdminStatus | AdminHistory, now: float, out: list[Action]
    ) -> None:
        """Observer requests (§3.5): admin tokens only."""
        if not state.admin:
            self._error(
                state,
                now,
                out,
                ErrorCode.FORBIDDEN,
                f"{frame.type} is for admin tokens only",
                "connect with a token made by 'ai-connect token create NAME --admin'",
                frame.rid,
            )
            return
        if isinstance(frame, AdminStatus):
            out.append(Send(state.id, self._report(frame.rid, now)))
            return
        try:
            viewer = identity.resolve(frame.viewer, self._peers.keys())
            peer = identity.resolve(frame.peer, self._peers.keys()) if frame.peer else None
        except UnknownPeer as exc:
            self._error(
                state, now, out, exc.code, exc.message, exc.hint, frame.rid, list(exc.candidates)
            )
            return
        limit = min(frame.limit, self.config.limits.history_max)
        out.append(QueryHistory(state.id, frame.rid, viewer, peer, limit, frame.before))

    def _report(self, rid: Rid, now: float) -> BridgeReport:
        details = []
        for p in sorted(self._peers.values(), key=lambda p: (p.conn is None, p.address.casefold())):
            owner = self._conns.get(p.conn) if p.conn is not None else None
            details.append(
                PeerDetail(
                    address=p.address,
                    online=owner is not None,
                    last_seen=now if owner is not None else p.last_seen,
                    tip=p.tip,
                    acked=p.acked,
                    connections=len(self._conns_of(p)),
                    token=owner.token_name if owner is not None else None,
                    remote=owner.remote if owner is not None else None,
                )
            )
        return BridgeReport(
            rid=rid,
            server=self.config.server_version,
            storage=self.config.storage,
            uptime_s=max(0.0, now - self.config.started_at),
            auth=self._auth.required,
            connections=len(self._conns),
            throttled=self._guard.throttled,
            peers=details,
        )
