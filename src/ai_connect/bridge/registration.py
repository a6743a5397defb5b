"""Registration, auth, presence and connection limits (§2, §4, docs/security.md).

A mixin of :class:`~ai_connect.bridge.core.Router`: it works on the state declared in
:mod:`ai_connect.bridge.state` and starts delivery through :class:`_Delivery`.
"""

from __future__ import annotations

from typing import Literal

from ai_connect import identity
from ai_connect.bridge.auth import Refusal
from ai_connect.bridge.delivery import _Delivery
from ai_connect.bridge.events import Action, Close, Persist, Send, Throttle
from ai_connect.bridge.state import (
    _NOTICE_EVERY_S,
    CLOSE_AUTH,
    CLOSE_GOING_AWAY,
    CLOSE_POLICY,
    CLOSE_REPLACED,
    Phase,
    _Conn,
    _Peer,
)
from ai_connect.bridge.store.base import AckOp, PeerRecord
from ai_connect.protocol import (
    PROTOCOL_VERSION,
    Error,
    ErrorCode,
    Hello,
    PeerView,
    Presence,
    Welcome,
)

__all__: list[str] = []


class _Registration(_Delivery):
    """Turns connections into peers and back, and tells watchers who came and went."""

    # --- registration (§2.1) ----------------------------------------------------------

    def _on_hello(self, state: _Conn, hello: Hello, now: float, out: list[Action]) -> None:
        if hello.protocol != PROTOCOL_VERSION:
            self._error(
                state,
                now,
                out,
                ErrorCode.PROTOCOL_VERSION,
                f"protocol {hello.protocol} is not supported; this bridge speaks "
                f"{PROTOCOL_VERSION}",
                "upgrade ai-connect on the older side",
                hello.rid,
            )
            return
        grant = self._auth.check(hello.token, hello.name, hello.project, now)
        if isinstance(grant, Refusal):
            code, message, hint = ErrorCode.AUTH_FAILED, grant.message, grant.hint
            self._error(state, now, out, code, message, hint, hello.rid)
            return
        if grant.token_id is not None and not self._guard.room_for(grant.token_id):
            limit = self.config.limits.max_conns_per_token
            self._error(
                state,
                now,
                out,
                ErrorCode.TOO_MANY_CONNECTIONS,
                f"the auth token {grant.token_id} already has {limit} live connections, "
                "the most this bridge allows",
                "close some of them, or ask the operator to raise --max-conns-per-token",
                hello.rid,
            )
            return
        if hello.attach:
            self._on_attach(state, hello, now, out)
        else:
            self._register(state, hello, now, out)
        if state.phase is Phase.REGISTERED:
            state.kind = hello.client.kind if hello.client is not None else ""
            state.token_id, state.token_name = grant.token_id, grant.token_name
            state.admin = grant.admin
            if grant.token_id is not None:
                self._guard.bind(state.id, grant.token_id, now)

    def _register(self, state: _Conn, hello: Hello, now: float, out: list[Action]) -> None:
        """Registers ``state`` as the owner of an address (§2.1)."""
        address = self._choose_address(hello)
        peer = self._peers.get(address)
        if peer is not None and peer.conn is not None:
            # Same session reconnecting before its old link was noticed dead: take over.
            old = self._conns.get(peer.conn)
            if old is not None:
                old.phase, old.address = Phase.NEW, None
                out.append(Close(old.id, CLOSE_REPLACED, "replaced by a newer connection"))
        name, project = identity.parse_address(address) or (hello.name, hello.project)
        if peer is None:
            peer = _Peer(address, name, project, now, now)
            self._peers[address] = peer
        peer.conn, peer.last_seen = state.id, now
        state.phase, state.address, state.session = Phase.REGISTERED, address, hello.session
        state.watch_presence = hello.presence
        out.append(Persist(self._record(peer)))
        # The resume cursor counts only in the mailbox it came from (§2.1).
        if hello.resume is not None and hello.address == address and hello.resume > peer.acked:
            peer.acked = min(hello.resume, peer.tip)
            out.append(Persist(AckOp(address, peer.acked)))
        state.sent = peer.acked
        out.append(Send(state.id, self._welcome(hello, peer, name, project)))
        self._presence("join", peer, now, out)
        self._pump(state, peer, out)

    def _choose_address(self, hello: Hello) -> str:
        def taken(address: str) -> bool:
            peer = self._peers.get(address)
            if peer is None or peer.conn is None:
                return False
            holder = self._conns.get(peer.conn)
            return holder is None or hello.session is None or holder.session != hello.session

        wanted = hello.address
        if wanted is not None:
            parsed = identity.parse_address(wanted)
            if (
                parsed is not None
                and parsed[1] == hello.project
                and parsed[0].split("#", 1)[0] == hello.name
                and not taken(wanted)
            ):
                return wanted
        return identity.with_suffix(hello.name, hello.project, taken)

    def _attach_target(self, hello: Hello) -> str | None:
        """The address an ``attach`` hello acts for, or ``None`` if it may not (§2.2)."""

        def held(address: str) -> _Conn | None:
            peer = self._peers.get(address)
            if peer is None or peer.conn is None:
                return None
            return self._conns.get(peer.conn)

        def mine(address: str) -> bool:
            holder = held(address)
            return (
                holder is not None and hello.session is not None and holder.session == hello.session
            )

        def ours(address: str) -> bool:
            parsed = identity.parse_address(address)
            return (
                parsed is not None
                and parsed[1] == hello.project
                and parsed[0].split("#", 1)[0] == hello.name
            )

        if hello.address is not None:
            wanted = hello.address
            ok = ours(wanted) and (mine(wanted) or held(wanted) is None)
            return wanted if ok else None
        for address in sorted(self._peers):
            if ours(address) and mine(address):
                return address
        base = identity.format_address(hello.name, hello.project)
        return base if held(base) is None else None

    def _on_attach(self, state: _Conn, hello: Hello, now: float, out: list[Action]) -> None:
        """Registers a connection that acts for an address without owning it (§2.2)."""
        address = self._attach_target(hello)
        if address is None:
            self._error(
                state,
                now,
                out,
                ErrorCode.ADDRESS_IN_USE,
                f"{hello.address or identity.format_address(hello.name, hello.project)} is "
                "held by another session, and no live address of this name belongs to "
                "this session",
                "attach with the session id of the connection that holds the address",
                hello.rid,
            )
            return
        name, project = identity.parse_address(address) or (hello.name, hello.project)
        peer = self._peers.get(address)
        if peer is None:
            peer = self._peers[address] = _Peer(address, name, project, now, now)
            out.append(Persist(self._record(peer)))
        state.phase, state.address, state.session = Phase.REGISTERED, address, hello.session
        state.attached, state.watch_presence = True, hello.presence
        self._attached.setdefault(address, set()).add(state.id)
        state.sent = peer.acked
        out.append(Send(state.id, self._welcome(hello, peer, name, project)))
        self._pump(state, peer, out)

    def _detach(self, state: _Conn, now: float, out: list[Action]) -> None:
        if state.address is None:
            return
        if state.attached:
            attached = self._attached.get(state.address, set())
            attached.discard(state.id)
            if not attached:
                self._attached.pop(state.address, None)
            return
        peer = self._peers[state.address]
        if peer.conn == state.id:
            peer.conn, peer.last_seen = None, now
            out.append(Persist(self._record(peer)))
            self._presence("leave", peer, now, out)

    # --- presence (§4) ----------------------------------------------------------------

    def _peer_view(self, peer: _Peer, now: float) -> PeerView:
        online = peer.conn is not None
        return PeerView(
            address=peer.address,
            name=peer.name,
            project=peer.project,
            online=online,
            last_seen=now if online else peer.last_seen,
        )

    def _peer_views(self, include_offline: bool, now: float) -> list[PeerView]:
        peers = [p for p in self._peers.values() if include_offline or p.conn is not None]
        peers.sort(key=lambda p: (p.conn is None, p.address.casefold()))
        return [self._peer_view(p, now) for p in peers]

    def _presence(
        self, event: Literal["join", "leave"], peer: _Peer, now: float, out: list[Action]
    ) -> None:
        view = None
        for conn in self._conns.values():
            if conn.watch_presence and conn.address not in (None, peer.address):
                view = view or self._peer_view(peer, now)
                out.append(Send(conn.id, Presence(event=event, peer=view)))

    def _on_tick(self, now: float, out: list[Action]) -> None:
        deadline = now - self.config.presence_timeout_s
        for conn in list(self._conns.values()):
            if conn.last_activity < deadline:
                out.append(
                    Close(
                        conn.id,
                        CLOSE_GOING_AWAY,
                        f"no frame for {self.config.presence_timeout_s:g} s",
                    )
                )
                self._conns.pop(conn.id)
                # A silent peer was last seen at its last frame, not when we noticed (§4).
                self._detach(conn, conn.last_activity, out)

    # --- security: connection limits, rate limits, tokens (docs/security.md) ---------

    def _on_connected(self, conn: int, now: float, remote: str, out: list[Action]) -> None:
        if self._guard.connect(conn, remote, now):
            self._conns[conn] = _Conn(conn, remote, now)
            return
        limit = self.config.limits.max_conns_per_ip
        error = Error(
            code=ErrorCode.TOO_MANY_CONNECTIONS,
            message=f"this address already has {limit} connections, the most this bridge allows",
            hint="close some of them, or ask the operator to raise --max-conns-per-ip",
        )
        out += [Send(conn, error), Close(conn, CLOSE_POLICY, "too many connections")]

    def _draw(self, state: _Conn, now: float, out: list[Action]) -> None:
        """Rate limits (§5.1): pause reading a connection that is over its budget."""
        wait = self._guard.draw(state.id, now)
        if wait <= 0:
            return
        out.append(Throttle(state.id, wait))
        if now - state.noticed >= _NOTICE_EVERY_S:
            state.noticed = now
            limits = self.config.limits
            message = (
                f"this connection sends more than {limits.rate_per_s:g} frames/s "
                f"(burst {limits.rate_burst})"
            )
            if state.token_id is not None:
                message += f", or its token more than {limits.token_rate_per_s:g} frames/s"
            hint = "slow down: the bridge reads this connection more slowly; nothing was dropped"
            out.append(
                Send(state.id, Error(code=ErrorCode.RATE_LIMITED, message=message, hint=hint))
            )

    _CLOSE_REASONS = {
        "missing": "auth token required",
        "wrong": "auth token deleted",
        "revoked": "auth token revoked",
        "expired": "auth token expired",
        "not_owner": "auth token no longer owns this name",
    }

    def _recheck(self, now: float, out: list[Action]) -> None:
        """Closes registered connections whose token no longer grants their address."""
        for state in list(self._conns.values()):
            if state.address is None or state.phase is not Phase.REGISTERED:
                continue
            peer = self._peers[state.address]
            refusal = self._auth.still_valid(state.token_id, peer.name, peer.project, now)
            if refusal is None:
                continue
            self._detach(state, now, out)
            state.phase, state.address, state.admin = Phase.NEW, None, False
            state.token_id = state.token_name = None
            self._guard.unbind(state.id)
            error = Error(code=ErrorCode.AUTH_FAILED, message=refusal.message, hint=refusal.hint)
            out.append(Send(state.id, error))
            out.append(Close(state.id, CLOSE_AUTH, self._CLOSE_REASONS[refusal.reason]))

    # --- helpers ----------------------------------------------------------------------

    def _welcome(self, hello: Hello, peer: _Peer, name: str, project: str) -> Welcome:
        """The reply to a hello that registered or attached to ``peer``'s address (§2.1)."""
        return Welcome(
            rid=hello.rid,
            address=peer.address,
            name=name,
            project=project,
            server=self.config.server_version,
            unread=peer.tip - peer.acked,
            tip=peer.tip,
            acked=peer.acked,
            limits=self.config.limits.as_dict(),
        )

    def _record(self, peer: _Peer) -> PeerRecord:
        return PeerRecord(
            peer.address,
            peer.name,
            peer.project,
            peer.first_seen,
            peer.last_seen,
            peer.tip,
            peer.acked,
        )
