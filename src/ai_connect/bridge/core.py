"""The router: a pure state machine for registration, routing, delivery and presence.

``Router.handle(event) -> list[Action]``: no sockets, no asyncio, no store, no clock; the
time arrives inside the events and message ids come from an injected iterator. The
server (``bridge/server.py``) carries out the actions. Section numbers refer to
docs/protocol.md.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from enum import Enum
from typing import Literal

from ai_connect import identity
from ai_connect.bridge.auth import Authenticator, Refusal
from ai_connect.bridge.consensus import Refused
from ai_connect.bridge.consensus_router import ConsensusBook
from ai_connect.bridge.events import (
    Action,
    BadFrame,
    Close,
    CommitFailed,
    Committed,
    Connected,
    Disconnected,
    Event,
    FrameReceived,
    LoadPending,
    Origin,
    PendingLoaded,
    Persist,
    QueryHistory,
    QuerySearch,
    Send,
    Throttle,
    Tick,
    TokensChanged,
)
from ai_connect.bridge.guard import Guard
from ai_connect.bridge.store.base import (
    AckOp,
    AppendOp,
    AppendResult,
    MailboxEntry,
    PeerRecord,
    ProposalRecord,
    StoredMessage,
    TokenRecord,
    message_bytes,
)
from ai_connect.errors import UnknownPeer
from ai_connect.protocol import (
    PROTOCOL_VERSION,
    Accepted,
    Ack,
    Acked,
    AdminHistory,
    AdminStatus,
    BridgeReport,
    ClientFrame,
    Deliver,
    Error,
    ErrorCode,
    Hello,
    History,
    Limits,
    PeerDetail,
    PeerList,
    Peers,
    PeerView,
    Ping,
    Pong,
    Presence,
    ProposalInfo,
    Proposals,
    ProposalStatus,
    Propose,
    Rid,
    Search,
    Status,
    StatusReport,
    Vote,
    Welcome,
    Withdraw,
)
from ai_connect.protocol import (
    Send as SendFrame,
)

__all__ = ["ALLOWED", "Phase", "Router", "RouterConfig"]

CLOSE_POLICY = 1008
CLOSE_GOING_AWAY = 1001
CLOSE_REPLACED = 4000
CLOSE_AUTH = 4001
"""The connection's token was revoked or expired, or auth was turned on (docs/security.md)."""
_NOTICE_EVERY_S = 1.0
"""A throttled connection is told ``rate_limited`` at most this often (§5.1)."""


class Phase(Enum):
    """The life of one connection (§2)."""

    NEW = "new"
    """Connected, no hello yet: only ``hello`` and ``ping`` are allowed."""
    REGISTERED = "registered"


ALLOWED: dict[Phase, frozenset[str]] = {
    Phase.NEW: frozenset({"hello", "ping"}),
    Phase.REGISTERED: frozenset(
        {"send", "ack", "peers", "history", "search", "status", "ping"}
        | {"admin_status", "admin_history"}
        | {"propose", "vote", "proposal_status", "proposals", "withdraw"}
    ),
}


@dataclass(frozen=True, slots=True)
class RouterConfig:
    server_version: str
    storage: str
    started_at: float
    limits: Limits = field(default_factory=Limits)
    presence_timeout_s: float = 60.0
    """A registered connection silent this long is closed and shown offline (§4)."""
    retention_s: float = 30 * 86400.0
    """Broadcasts reach peers seen within this window (§3.1)."""
    require_auth: bool = False
    """Auth on even while no token exists (``ai-connect bridge --auth``)."""


@dataclass(slots=True)
class _Peer:
    address: str
    name: str
    project: str
    first_seen: float
    last_seen: float
    tip: int = 0
    acked: int = 0
    conn: int | None = None
    stored_acked: int = 0
    """``acked`` as far as it is committed: all an ``acked`` reply may promise (§3.3)."""


@dataclass(slots=True)
class _Conn:
    id: int
    remote: str
    last_activity: float
    phase: Phase = Phase.NEW
    address: str | None = None
    session: str | None = None
    attached: bool = False
    """Registered with ``attach``: acts for ``address`` beside its owner (§2.2)."""
    watch_presence: bool = False
    errors: deque[float] = field(default_factory=deque)
    sent: int = 0
    """Highest mailbox seq sent on this connection."""
    loading: bool = False
    inflight: deque[tuple[int, int]] = field(default_factory=deque)
    inflight_bytes: int = 0
    token_id: str | None = None
    """The auth token this connection registered with (docs/security.md)."""
    token_name: str | None = None
    admin: bool = False
    noticed: float = float("-inf")
    """When it was last told ``rate_limited``."""


class Router:
    """Routes frames between connections; owns the in-memory view of peers."""

    def __init__(
        self,
        config: RouterConfig,
        peers: Iterable[PeerRecord],
        ids: Iterator[str],
        tokens: Iterable[TokenRecord] = (),
        proposals: Iterable[ProposalRecord] = (),
    ) -> None:
        self.config = config
        self._ids = ids
        self._auth = Authenticator(tokens, required=config.require_auth)
        self._guard = Guard(config.limits)
        self._peers: dict[str, _Peer] = {
            p.address: _Peer(
                p.address, p.name, p.project, p.first_seen, p.last_seen, p.tip, p.acked
            )
            for p in peers
        }
        for peer in self._peers.values():
            peer.stored_acked = peer.acked
        self._conns: dict[int, _Conn] = {}
        self._attached: dict[str, set[int]] = {}
        self._book = ConsensusBook(proposals, ids)
        """Consensus proposals (docs/protocol.md §8)."""
        """Address -> ids of the connections attached to it (§2.2)."""

    # --- introspection (tests, status) -------------------------------------------------

    @property
    def online(self) -> dict[str, int]:
        """Address -> connection id of every registered connection."""
        return {a: p.conn for a, p in self._peers.items() if p.conn is not None}

    def address_of(self, conn: int) -> str | None:
        state = self._conns.get(conn)
        return state.address if state else None

    # --- dispatch ------------------------------------------------------------------------

    def handle(self, event: Event) -> list[Action]:
        out: list[Action] = []
        match event:
            case Connected(conn, now, remote):
                self._on_connected(conn, now, remote, out)
            case FrameReceived(conn, frame, now):
                state = self._conns.get(conn)
                if state is not None:
                    state.last_activity = now
                    self._on_frame(state, frame, now, out)
                    self._draw(state, now, out)
            case BadFrame(conn, error, now):
                state = self._conns.get(conn)
                if state is not None:
                    state.last_activity = now
                    self._error(state, now, out, error.code, error.message, error.hint, error.rid)
                    self._draw(state, now, out)
            case Disconnected(conn, now):
                state = self._conns.pop(conn, None)
                self._guard.disconnect(conn)
                if state is not None:
                    self._detach(state, now, out)
            case TokensChanged(tokens, now):
                self._auth = Authenticator(tokens, required=self.config.require_auth)
                self._guard.forget_tokens({t.id for t in tokens})
                self._recheck(now, out)
            case Committed(appends, acks, proposals):
                self._book.committed(p.op for p in proposals if isinstance(p.op, ProposalRecord))
                self._on_committed(appends, acks, out)
                for persist in proposals:  # §8: replies follow the commit
                    asker = persist.origin
                    if asker is not None and asker.conn in self._conns:
                        assert isinstance(persist.op, ProposalRecord)
                        info = ProposalInfo(rid=asker.rid, proposal=persist.op.data)
                        out.append(Send(asker.conn, info))
            case CommitFailed(persists, reason):
                self._book.failed(p.op for p in persists if isinstance(p.op, ProposalRecord))
                for persist in persists:
                    origin = persist.origin
                    if origin is not None and origin.conn in self._conns:
                        out.append(
                            Send(
                                origin.conn,
                                Error(
                                    rid=origin.rid,
                                    code=ErrorCode.INTERNAL,
                                    message=f"the bridge could not store this: {reason}",
                                    hint="nothing was accepted; send it again (same cid) later",
                                ),
                            )
                        )
            case PendingLoaded(conn, after_seq, entries):
                self._on_loaded(conn, after_seq, entries, out)
            case Tick(now):
                self._on_tick(now, out)
                out += self._book.tick(now)
                if self._auth.required:
                    self._recheck(now, out)
        return out

    def _on_frame(self, state: _Conn, frame: ClientFrame, now: float, out: list[Action]) -> None:
        if frame.type not in ALLOWED[state.phase]:
            if state.phase is Phase.NEW:
                code, hint = ErrorCode.NOT_REGISTERED, "send hello first"
            else:
                code, hint = ErrorCode.ALREADY_REGISTERED, "open a new connection"
            self._error(
                state,
                now,
                out,
                code,
                f"{frame.type} is not allowed on a {state.phase.value} connection",
                hint,
                getattr(frame, "rid", None),
            )
            return
        match frame:
            case Hello():
                self._on_hello(state, frame, now, out)
            case SendFrame():
                self._on_send(state, frame, now, out)
            case Ack():
                self._on_ack(state, frame, now, out)
            case Peers():
                out.append(
                    Send(
                        state.id,
                        PeerList(rid=frame.rid, peers=self._peer_views(frame.include_offline, now)),
                    )
                )
            case History():
                self._on_history(state, frame, now, out)
            case Search():
                assert state.address is not None
                limit = min(frame.limit, self.config.limits.search_max)
                out.append(QuerySearch(state.id, frame.rid, state.address, frame.query, limit))
            case Status():
                self._on_status(state, frame, now, out)
            case Ping():
                out.append(Send(state.id, Pong(rid=frame.rid)))
            case Propose() | Vote() | ProposalStatus() | Proposals() | Withdraw():
                assert state.address is not None
                online = [a for a, p in self._peers.items() if p.conn is not None]
                origin = Origin(state.id, frame.rid)
                done = self._book.handle(frame, state.address, origin, now, self._peers, online)
                if isinstance(done, Refused):
                    why = (done.code, done.message, done.hint, frame.rid, done.candidates)
                    self._error(state, now, out, *why)
                else:
                    out += done
            case AdminStatus() | AdminHistory():
                self._on_admin(state, frame, now, out)

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
        out.append(
            Send(
                state.id,
                Welcome(
                    rid=hello.rid,
                    address=address,
                    name=name,
                    project=project,
                    server=self.config.server_version,
                    unread=peer.tip - peer.acked,
                    tip=peer.tip,
                    acked=peer.acked,
                    limits=self.config.limits.as_dict(),
                ),
            )
        )
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
        out.append(
            Send(
                state.id,
                Welcome(
                    rid=hello.rid,
                    address=address,
                    name=name,
                    project=project,
                    server=self.config.server_version,
                    unread=peer.tip - peer.acked,
                    tip=peer.tip,
                    acked=peer.acked,
                    limits=self.config.limits.as_dict(),
                ),
            )
        )
        self._pump(state, peer, out)

    def _conns_of(self, peer: _Peer) -> list[_Conn]:
        """Every connection acting for ``peer``: its owner first, then attached ones."""
        ids = [peer.conn] if peer.conn is not None else []
        ids += sorted(self._attached.get(peer.address, ()))
        return [c for i in ids if (c := self._conns.get(i)) is not None]

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

    # --- sending (§3.1) ---------------------------------------------------------------

    def _on_send(self, state: _Conn, frame: SendFrame, now: float, out: list[Action]) -> None:
        limits = self.config.limits
        sender = state.address
        assert sender is not None
        body_size = len(frame.body.encode())
        if body_size > limits.max_body_bytes:
            self._error(
                state,
                now,
                out,
                ErrorCode.BODY_TOO_LARGE,
                f"body of {body_size} bytes exceeds {limits.max_body_bytes}",
                "shorten the message or send it in parts",
                frame.rid,
            )
            return
        probe = StoredMessage("", sender, "", "", frame.context, None, None, 0.0, "")
        if frame.context and message_bytes(probe) > limits.max_context_bytes:
            self._error(
                state,
                now,
                out,
                ErrorCode.BODY_TOO_LARGE,
                f"context exceeds {limits.max_context_bytes} bytes",
                "share a smaller line range",
                frame.rid,
            )
            return
        if frame.to == identity.BROADCAST:
            horizon = now - self.config.retention_s
            recipients = tuple(
                sorted(
                    a
                    for a, p in self._peers.items()
                    if a != sender and (p.conn is not None or p.last_seen >= horizon)
                )
            )
            if not recipients:
                self._error(
                    state,
                    now,
                    out,
                    ErrorCode.UNKNOWN_PEER,
                    "no other peer is known, so nobody would receive a broadcast",
                    "wait until another agent has connected, then send again",
                    frame.rid,
                )
                return
            target = identity.BROADCAST
        else:
            try:
                target = identity.resolve(frame.to, self._peers.keys())
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
            recipients = (target,)
        message = StoredMessage(
            id=next(self._ids),
            sender=sender,
            to=target,
            body=frame.body,
            context=frame.context,
            thread=frame.thread,
            reply_to=frame.reply_to,
            ts=now,
            cid=frame.cid,
        )
        out.append(Persist(AppendOp(message, recipients), Origin(state.id, frame.rid)))
        out += self._book.on_message(sender, frame.thread, frame.body, now)  # §8.2 tags

    def _on_committed(
        self,
        appends: tuple[tuple[Persist, AppendResult], ...],
        acks: tuple[Persist, ...],
        out: list[Action],
    ) -> None:
        touched: dict[int, _Conn] = {}
        for persist, result in appends:
            message = result.message
            online: list[str] = []
            for recipient, seq in result.seqs.items():
                peer = self._peers.get(recipient)
                if peer is None:
                    continue
                peer.tip = max(peer.tip, seq)
                if peer.conn is not None:
                    online.append(recipient)
                if result.duplicate:
                    continue
                for conn in self._conns_of(peer):
                    if not conn.loading and conn.sent == seq - 1 and self._room(conn):
                        self._deliver(conn, MailboxEntry(recipient, seq, message), out)
                    touched[conn.id] = conn
            if persist.origin is not None:
                origin = persist.origin
                if origin.conn in self._conns:
                    out.append(
                        Send(
                            origin.conn,
                            Accepted(
                                rid=origin.rid,
                                cid=message.cid,
                                id=message.id,
                                ts=message.ts,
                                to=message.to,
                                recipients=sorted(result.seqs),
                                online=sorted(online),
                                duplicate=result.duplicate,
                            ),
                        )
                    )
        for persist in acks:
            assert isinstance(persist.op, AckOp)
            acker = self._peers.get(persist.op.recipient)
            if acker is not None:
                acker.stored_acked = max(acker.stored_acked, persist.op.seq)
            asker = persist.origin
            if asker is not None and asker.conn in self._conns:
                out.append(Send(asker.conn, Acked(rid=asker.rid, seq=persist.op.seq)))
        for conn in touched.values():
            if conn.address is not None:
                self._pump(conn, self._peers[conn.address], out)

    # --- delivery and flow control (§3.2, §3.3) ---------------------------------------

    def _room(self, conn: _Conn) -> bool:
        limits = self.config.limits
        return len(conn.inflight) < limits.window_messages and (
            conn.inflight_bytes < limits.window_bytes or not conn.inflight
        )

    def _deliver(self, conn: _Conn, entry: MailboxEntry, out: list[Action]) -> None:
        m = entry.message
        out.append(
            Send(
                conn.id,
                Deliver(
                    seq=entry.seq,
                    id=m.id,
                    from_=m.sender,
                    to=m.to,
                    body=m.body,
                    context=m.context,
                    thread=m.thread,
                    reply_to=m.reply_to,
                    ts=m.ts,
                ),
            )
        )
        size = message_bytes(m)
        conn.sent = entry.seq
        conn.inflight.append((entry.seq, size))
        conn.inflight_bytes += size

    def _pump(self, conn: _Conn, peer: _Peer, out: list[Action]) -> None:
        """Asks the store for the next page of the mailbox when the window has room."""
        if conn.loading or conn.sent >= peer.tip or not self._room(conn):
            return
        limits = self.config.limits
        conn.loading = True
        out.append(
            LoadPending(
                conn.id,
                peer.address,
                conn.sent,
                limits.window_messages - len(conn.inflight),
                max(1, limits.window_bytes - conn.inflight_bytes),
            )
        )

    def _on_loaded(
        self,
        conn_id: int,
        after_seq: int,
        entries: tuple[MailboxEntry, ...],
        out: list[Action],
    ) -> None:
        conn = self._conns.get(conn_id)
        if conn is None or conn.address is None:
            return
        conn.loading = False
        for entry in entries:
            if entry.seq == conn.sent + 1 and self._room(conn):
                self._deliver(conn, entry, out)
        self._pump(conn, self._peers[conn.address], out)

    def _on_ack(self, state: _Conn, frame: Ack, now: float, out: list[Action]) -> None:
        assert state.address is not None
        peer = self._peers[state.address]
        if frame.seq > peer.tip:
            self._error(
                state,
                now,
                out,
                ErrorCode.BAD_ACK,
                f"ack {frame.seq} is beyond the last delivered seq {peer.tip}",
                "ack only sequence numbers you received",
                frame.rid,
            )
            return
        origin = Origin(state.id, frame.rid) if frame.rid is not None else None
        if frame.seq > peer.acked:
            peer.acked = frame.seq
            out.append(Persist(AckOp(peer.address, frame.seq), origin))
            for other in self._conns_of(peer):
                if other is not state:
                    # The messages reached the agent through this connection: the other
                    # connections of the address must not show them again (§2.2).
                    out.append(Send(other.id, Acked(seq=frame.seq)))
                    self._release(other, frame.seq)
                    self._pump(other, peer, out)
        elif origin is not None and frame.seq > peer.stored_acked:
            # The ack that covers it is not committed yet (or failed): answer after a commit.
            out.append(Persist(AckOp(peer.address, frame.seq), origin))
        elif origin is not None:
            out.append(Send(state.id, Acked(rid=origin.rid, seq=peer.stored_acked)))
        self._release(state, frame.seq)
        self._pump(state, peer, out)

    @staticmethod
    def _release(conn: _Conn, seq: int) -> None:
        """Everything up to ``seq`` is acked: it leaves the connection's window."""
        conn.sent = max(conn.sent, seq)
        while conn.inflight and conn.inflight[0][0] <= seq:
            conn.inflight_bytes -= conn.inflight.popleft()[1]

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

    # --- security: connection limits, rate limits, tokens, admin (docs/security.md) ---

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

    # --- helpers ----------------------------------------------------------------------

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

    def _error(
        self,
        state: _Conn,
        now: float,
        out: list[Action],
        code: str,
        message: str,
        hint: str,
        rid: Rid | None = None,
        candidates: list[str] | None = None,
    ) -> None:
        """Answers with an error frame; too many of them in a window close the link."""
        limits = self.config.limits
        state.errors.append(now)
        while state.errors and state.errors[0] < now - limits.error_window_s:
            state.errors.popleft()
        out.append(
            Send(
                state.id,
                Error(rid=rid, code=code, message=message, hint=hint, candidates=candidates),
            )
        )
        if len(state.errors) > limits.max_errors:
            out.append(
                Close(
                    state.id,
                    CLOSE_POLICY,
                    f"more than {limits.max_errors} errors in {limits.error_window_s:g} s",
                )
            )
