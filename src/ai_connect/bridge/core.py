"""The router: a pure state machine for registration, routing, delivery and presence.

``Router.handle(event) -> list[Action]``: no sockets, no asyncio, no store, no clock; the
time arrives inside the events and message ids come from an injected iterator. The
server (``bridge/server.py``) carries out the actions. Section numbers refer to
docs/protocol.md.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from ai_connect.bridge.auth import Authenticator
from ai_connect.bridge.brake import Brake
from ai_connect.bridge.braking import _Braking
from ai_connect.bridge.consensus import Refused
from ai_connect.bridge.consensus_router import ConsensusBook
from ai_connect.bridge.events import (
    Action,
    BadFrame,
    CommitFailed,
    Committed,
    Connected,
    Disconnected,
    Event,
    FrameReceived,
    Origin,
    PendingLoaded,
    QuerySearch,
    Send,
    Tick,
    TokensChanged,
)
from ai_connect.bridge.guard import Guard
from ai_connect.bridge.queries import _Queries
from ai_connect.bridge.registration import _Registration
from ai_connect.bridge.state import (
    ALLOWED,
    CLOSE_AUTH,
    CLOSE_GOING_AWAY,
    CLOSE_POLICY,
    CLOSE_REPLACED,
    Phase,
    RouterConfig,
    _Conn,
    _Peer,
)
from ai_connect.bridge.store.base import PeerRecord, ProposalRecord, TokenRecord
from ai_connect.protocol import (
    Ack,
    AdminBrakes,
    AdminHistory,
    AdminResume,
    AdminStatus,
    ClientFrame,
    Error,
    ErrorCode,
    Hello,
    History,
    Human,
    PeerList,
    Peers,
    Ping,
    Pong,
    ProposalInfo,
    Proposals,
    ProposalStatus,
    Propose,
    Search,
    Status,
    Vote,
    Withdraw,
)
from ai_connect.protocol import Send as SendFrame

__all__ = [
    "ALLOWED",
    "CLOSE_AUTH",
    "CLOSE_GOING_AWAY",
    "CLOSE_POLICY",
    "CLOSE_REPLACED",
    "Phase",
    "Router",
    "RouterConfig",
]


class Router(_Registration, _Queries, _Braking):
    """Routes frames between connections; owns the in-memory view of peers.

    The work is split by topic: :mod:`~ai_connect.bridge.registration` (hello, attach,
    presence, auth, limits), :mod:`~ai_connect.bridge.delivery` (send, commit, window,
    ack) and :mod:`~ai_connect.bridge.queries` (history, status, admin); the state they
    share is declared in :mod:`~ai_connect.bridge.state`. ``handle`` is the one entry point.
    """

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
        self._peers = {
            p.address: _Peer(
                p.address, p.name, p.project, p.first_seen, p.last_seen, p.tip, p.acked
            )
            for p in peers
        }
        for peer in self._peers.values():
            peer.stored_acked = peer.acked
        self._conns = {}
        self._attached = {}
        self._book = ConsensusBook(proposals, ids)
        self._brake = Brake(config.brake)

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
                self._brake.forget_idle(now)
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
            case Human() | AdminBrakes() | AdminResume():
                self._on_brake_frame(state, frame, now, out)
