"""Registration, auth, presence and connection limits (§2, §4, docs/security.md).

A part of :class:`~ai_connect.bridge.core.Router`: it turns connections of the
:class:`~ai_connect.bridge.state.Registry` into peers and back, asks the
:class:`~ai_connect.bridge.auth.Authenticator` and the :class:`~ai_connect.bridge.guard.Guard`
who may, and hands a registered connection to :class:`~ai_connect.bridge.delivery.Delivery`
to start delivering its mail. A ``hello`` it will not take raises
:class:`~ai_connect.bridge.refusal.Refusal`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

from ai_connect import identity
from ai_connect.bridge.auth import Authenticator, AuthRefusal
from ai_connect.bridge.delivery import Delivery
from ai_connect.bridge.events import Action, Close, LoginFailed, Persist, Send, Throttle
from ai_connect.bridge.feed import Feed
from ai_connect.bridge.guard import Guard, ip_of
from ai_connect.bridge.logins import LoginLimiter
from ai_connect.bridge.refusal import Refusal
from ai_connect.bridge.state import (
    CLOSE_AUTH,
    CLOSE_GOING_AWAY,
    CLOSE_POLICY,
    CLOSE_REPLACED,
    Conn,
    Peer,
    Phase,
    Registry,
    RouterConfig,
)
from ai_connect.bridge.store.base import AckOp, TokenRecord
from ai_connect.bridge.views import peer_view
from ai_connect.protocol import PROTOCOL_VERSION, Error, ErrorCode, Hello, Presence, Welcome

__all__ = ["Registration"]

_NOTICE_EVERY_S = 1.0
"""A throttled connection is told ``rate_limited`` at most this often (§5.1)."""


class Registration:
    """Turns connections into peers and back, and tells watchers who came and went."""

    def __init__(
        self,
        config: RouterConfig,
        registry: Registry,
        auth: Authenticator,
        guard: Guard,
        delivery: Delivery,
        feed: Feed,
    ) -> None:
        self.config = config
        self.registry = registry
        self.auth = auth
        self.guard = guard
        self.delivery = delivery
        self.feed = feed
        self.logins = LoginLimiter(config.logins)

    # --- connections (docs/security.md) -----------------------------------------------

    def on_connected(self, conn_id: int, now: float, remote: str) -> list[Action]:
        if self.guard.connect(conn_id, remote, now):
            self.registry.conns[conn_id] = Conn(conn_id, remote, now)
            return []
        limit = self.config.limits.max_conns_per_ip
        error = Error(
            code=ErrorCode.TOO_MANY_CONNECTIONS,
            message=f"this address already has {limit} connections, the most this bridge allows",
            hint="close some of them, or ask the operator to raise --max-conns-per-ip",
        )
        return [Send(conn_id, error), Close(conn_id, CLOSE_POLICY, "too many connections")]

    def on_disconnected(self, conn_id: int, now: float) -> list[Action]:
        conn = self.registry.conns.pop(conn_id, None)
        self.guard.disconnect(conn_id)
        self.feed.observers.discard(conn_id)
        return self._detach(conn, now) if conn is not None else []

    # --- registration (§2.1) ----------------------------------------------------------

    def on_hello(self, conn: Conn, hello: Hello, now: float) -> list[Action]:
        if hello.protocol != PROTOCOL_VERSION:
            raise Refusal(
                ErrorCode.PROTOCOL_VERSION,
                f"protocol {hello.protocol} is not supported; this bridge speaks "
                f"{PROTOCOL_VERSION}",
                "upgrade ai-connect on the older side",
            )
        mode = hello.session_mode
        observer = mode == "observe"
        grant = self.auth.check(hello.token, hello.name, hello.project, now, observer=observer)
        if grant.token_id is not None and not self.guard.room_for(grant.token_id):
            limit = self.config.limits.max_conns_per_token
            raise Refusal(
                ErrorCode.TOO_MANY_CONNECTIONS,
                f"the auth token {grant.token_id} already has {limit} live connections, "
                "the most this bridge allows",
                "close some of them, or ask the operator to raise --max-conns-per-token",
            )
        if mode in ("query", "observe"):
            out = self._query(conn, hello)
        elif mode == "attach":
            out = self._attach(conn, hello, now)
        else:
            out = self._register(conn, hello, now)
        conn.token_id, conn.token_name = grant.token_id, grant.token_name
        # An observer is the operator's view: with auth off, it may do what an admin may.
        conn.admin = grant.admin or (observer and not self.auth.required)
        if observer:
            conn.phase = Phase.OBSERVE
            self.feed.observers.add(conn.id)
        conn.kind = hello.client.kind if hello.client is not None else ""
        if grant.token_id is not None:
            self.guard.bind(conn.id, grant.token_id, now)
        return out

    def login_failed(self, conn: Conn, hello: Hello, refusal: AuthRefusal, now: float) -> Action:
        """A refused token: counted against the connection's address, which decides how
        long the refusal is held (bridge/logins.py); the server logs it at INFO."""
        failures, hold = self.logins.failed(ip_of(conn.remote), now)
        return LoginFailed(
            conn.id, conn.remote, hello.name, hello.project, refusal.reason, failures, hold
        )

    def _register(self, conn: Conn, hello: Hello, now: float) -> list[Action]:
        """Registers ``conn`` as the owner of an address (§2.1)."""
        out: list[Action] = []
        registry = self.registry
        address = self._choose_address(hello)
        peer = registry.peers.get(address)
        if peer is not None and peer.conn is not None:
            # Same session reconnecting before its old link was noticed dead: take over.
            old = registry.conns.get(peer.conn)
            if old is not None:
                old.phase, old.address = Phase.NEW, None
                out.append(Close(old.id, CLOSE_REPLACED, "replaced by a newer connection"))
        name, project = identity.parse_address(address) or (hello.name, hello.project)
        if peer is None:
            peer = Peer(address, name, project, now, now)
            registry.peers[address] = peer
        peer.conn, peer.last_seen = conn.id, now
        conn.phase, conn.address, conn.session = Phase.REGISTERED, address, hello.session
        conn.registered = now
        conn.watch_presence, conn.receipts = hello.presence, bool(hello.receipts)
        if hello.presence:
            registry.watchers.add(conn.id)
        out.append(Persist(peer.record()))
        # The resume cursor counts only in the mailbox it came from (§2.1).
        if hello.resume is not None and hello.address == address and hello.resume > peer.acked:
            peer.acked = min(hello.resume, peer.tip)
            out.append(Persist(AckOp(address, peer.acked)))
            out += self.delivery.shown(address, peer.acked, None, conn.id, now)
        conn.sent = peer.acked
        out.append(Send(conn.id, self._welcome(hello, peer, name, project)))
        out += self._presence("join", peer, now)
        out += self.delivery.pump(conn, peer, now)
        return out

    def _choose_address(self, hello: Hello) -> str:
        def taken(address: str) -> bool:
            peer = self.registry.peers.get(address)
            if peer is not None and peer.conn is None and peer.elsewhere:
                # held on another node: the same session takes it over, others get Name#2
                return hello.session is None or peer.elsewhere_session != hello.session
            if peer is None or peer.conn is None:
                return False
            holder = self.registry.conns.get(peer.conn)
            return holder is None or hello.session is None or holder.session != hello.session

        wanted = hello.address
        if wanted is not None and _ours(wanted, hello) and not taken(wanted):
            return wanted
        return identity.with_suffix(hello.name, hello.project, taken)

    def _attach_target(self, hello: Hello) -> str | None:
        """The address an ``attach`` hello acts for, or ``None`` if it may not (§2.2)."""
        owner = self.registry.owner

        def mine(address: str) -> bool:
            holder = owner(address)
            return (
                holder is not None and hello.session is not None and holder.session == hello.session
            )

        if hello.address is not None:
            wanted = hello.address
            ok = _ours(wanted, hello) and (mine(wanted) or owner(wanted) is None)
            return wanted if ok else None
        for address in sorted(self.registry.peers):
            if _ours(address, hello) and mine(address):
                return address
        base = identity.format_address(hello.name, hello.project)
        return base if owner(base) is None else None

    def _attach(self, conn: Conn, hello: Hello, now: float) -> list[Action]:
        """Registers a connection that acts for an address without owning it (§2.2)."""
        address = self._attach_target(hello)
        if address is None:
            raise Refusal(
                ErrorCode.ADDRESS_IN_USE,
                f"{hello.address or identity.format_address(hello.name, hello.project)} is "
                "held by another session, and no live address of this name belongs to "
                "this session",
                "attach with the session id of the connection that holds the address",
            )
        out: list[Action] = []
        name, project = identity.parse_address(address) or (hello.name, hello.project)
        peer = self.registry.peers.get(address)
        if peer is None:
            peer = self.registry.peers[address] = Peer(address, name, project, now, now)
            out.append(Persist(peer.record()))
        conn.phase, conn.address, conn.session = Phase.REGISTERED, address, hello.session
        conn.attached, conn.watch_presence = True, hello.presence
        if hello.presence:
            self.registry.watchers.add(conn.id)
        conn.receipts = bool(hello.receipts)
        self.registry.attached.setdefault(address, set()).add(conn.id)
        conn.sent = peer.acked
        out.append(Send(conn.id, self._welcome(hello, peer, name, project)))
        out += self.delivery.pump(conn, peer, now)
        return out

    def _query(self, conn: Conn, hello: Hello) -> list[Action]:
        """Lets a connection ask as ``Name (Project)`` without becoming a peer (§2.4)."""
        address = hello.address if hello.address and _ours(hello.address, hello) else None
        address = address or identity.format_address(hello.name, hello.project)
        name, project = identity.parse_address(address) or (hello.name, hello.project)
        conn.phase, conn.address, conn.session = Phase.QUERY, address, hello.session
        conn.receipts = bool(hello.receipts)
        peer = self.registry.peers.get(address) or Peer(address, name, project, 0.0, 0.0)
        return [Send(conn.id, self._welcome(hello, peer, name, project))]

    def _detach(self, conn: Conn, now: float) -> list[Action]:
        if conn.address is None or conn.phase in (Phase.QUERY, Phase.OBSERVE):
            return []
        if conn.attached:
            attached = self.registry.attached.get(conn.address, set())
            attached.discard(conn.id)
            if not attached:
                self.registry.attached.pop(conn.address, None)
            return []
        peer = self.registry.peers[conn.address]
        if peer.conn != conn.id:
            return []
        peer.conn, peer.last_seen = None, now
        return [Persist(peer.record()), *self._presence("leave", peer, now)]

    def _welcome(self, hello: Hello, peer: Peer, name: str, project: str) -> Welcome:
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

    # --- presence (§4) ----------------------------------------------------------------

    def announce(self, event: Literal["join", "leave"], peer: Peer, now: float) -> list[Action]:
        """``presence`` frames about ``peer`` to the watchers here (bridge/cluster.py)."""
        return self._presence(event, peer, now)

    def _presence(self, event: Literal["join", "leave"], peer: Peer, now: float) -> list[Action]:
        out: list[Action] = []
        view = None
        conns = self.registry.conns
        watchers = self.registry.watchers
        # The watchers alone, in connection order: a join costs O(watchers), not
        # O(connections) (issue 13: 10,000 idle peers registering).
        for conn_id in sorted(watchers):
            conn = conns.get(conn_id)
            if conn is None or not conn.watch_presence:
                watchers.discard(conn_id)  # gone (or no longer watching): forget it
            elif conn.address not in (None, peer.address):
                view = view or peer_view(peer, now)
                out.append(Send(conn.id, Presence(event=event, peer=view)))
        return out + self.feed.presence(event, peer, now)

    def on_tick(self, now: float) -> list[Action]:
        """Closes the connections silent for longer than the presence timeout."""
        out: list[Action] = []
        timeout = self.config.presence_timeout_s
        for conn in list(self.registry.conns.values()):
            if conn.last_activity < now - timeout:
                out.append(Close(conn.id, CLOSE_GOING_AWAY, f"no frame for {timeout:g} s"))
                self.registry.conns.pop(conn.id)
                # A silent peer was last seen at its last frame, not when we noticed (§4).
                out += self._detach(conn, conn.last_activity)
        return out

    # --- rate limits and tokens (§5.1, docs/security.md) ------------------------------

    def draw(self, conn: Conn, now: float, cost: int = 1) -> list[Action]:
        """Rate limits (§5.1): pause reading a connection that is over its budget; a frame
        costs one token, or one per mailbox entry it stores (a broadcast: its fan-out)."""
        wait = self.guard.draw(conn.id, now, cost)
        if wait <= 0:
            return []
        self.registry.counts.throttled += 1
        out: list[Action] = [Throttle(conn.id, wait)]
        if now - conn.noticed >= _NOTICE_EVERY_S:
            conn.noticed = now
            limits = self.config.limits
            message = (
                f"this connection sends more than {limits.rate_per_s:g} frames/s "
                f"(burst {limits.rate_burst}; a broadcast counts once per recipient)"
            )
            if conn.token_id is not None:
                message += f", or its token more than {limits.token_rate_per_s:g} frames/s"
            hint = "slow down: the bridge reads this connection more slowly; nothing was dropped"
            error = Error(code=ErrorCode.RATE_LIMITED, message=message, hint=hint)
            out.append(Send(conn.id, error))
        return out

    def on_tokens(self, tokens: Iterable[TokenRecord], now: float) -> list[Action]:
        """The stored tokens changed: decide from the new ones, close who lost its grant."""
        records = tuple(tokens)
        self.auth.update(records)
        self.guard.forget_tokens({t.id for t in records})
        return self.recheck(now)

    def recheck(self, now: float) -> list[Action]:
        """Closes registered connections whose token no longer grants their address."""
        out: list[Action] = []
        if not self.auth.required:
            return out
        for conn in list(self.registry.conns.values()):
            if conn.address is None or conn.phase is Phase.NEW:
                continue
            name, project = identity.parse_address(conn.address) or ("", "")
            observer = conn.phase is Phase.OBSERVE
            refusal = self.auth.still_valid(conn.token_id, name, project, now, observer=observer)
            if refusal is None:
                continue
            out += self._detach(conn, now)
            self.feed.observers.discard(conn.id)
            conn.phase, conn.address, conn.admin = Phase.NEW, None, False
            conn.token_id = conn.token_name = None
            self.guard.unbind(conn.id)
            out.append(Send(conn.id, refusal.error()))
            out.append(Close(conn.id, CLOSE_AUTH, refusal.close_reason))
        return out


def _ours(address: str, hello: Hello) -> bool:
    """Whether ``address`` is one of the hello's name in its project (``Name#N`` too)."""
    parsed = identity.parse_address(address)
    return (
        parsed is not None
        and parsed[1] == hello.project
        and parsed[0].split("#", 1)[0] == hello.name
    )
