"""The router: a pure state machine for registration, routing, delivery and presence.

``Router.handle(event) -> list[Action]``: no sockets, no asyncio, no store, no clock; the
time arrives inside the events and message ids come from an injected iterator. The
server (``bridge/server.py``) carries out the actions. Section numbers refer to
docs/protocol.md.

The router is composed of parts, each built with what it needs::

    Router
     ├── Registry          state.py         peers, connections, attachments (shared)
     ├── Registration      registration.py  hello, attach, presence, auth, limits
     ├── Delivery          delivery.py      send, commit replies, window, ack
     ├── Queries           queries.py       peers, history, search, status, admin
     ├── ReceiptDesk       receipts.py      receipts: per-recipient states (§3.7)
     ├── Feed              feed.py          the observers' snapshot and events (§9)
     ├── ConsensusBook     consensus_router.py  proposals, votes, verdicts (§8)
     ├── Braking           braking.py       the loop brake: pauses, notices, resumes (§3.6)
     ├── Forgetting        forgetting.py    an owner or the operator forgets an address (§2.5)
     ├── Retention         retention.py     prunes what --retention-days no longer keeps
     ├── WorkBoard         work.py          each peer's last work status (§11)
     ├── LeaseDesk         leases.py        advisory file leases (§10)
     └── ErrorBudget       guard.py         too many errors close the connection

A part that will not do what a frame asks raises
:class:`~ai_connect.bridge.refusal.Refusal`; :meth:`Router.handle` turns it into the
``error`` frame in one place (:meth:`Router._refuse`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from ai_connect import identity
from ai_connect.bridge.auth import Authenticator, AuthRefusal
from ai_connect.bridge.braking import Braking
from ai_connect.bridge.cluster import Cluster
from ai_connect.bridge.consensus_router import ConsensusBook
from ai_connect.bridge.delivery import Delivery
from ai_connect.bridge.events import (
    Action,
    Answered,
    BadFrame,
    Close,
    CommitFailed,
    Committed,
    Connected,
    Disconnected,
    Event,
    ForgottenElsewhere,
    FrameReceived,
    LeasesStored,
    Origin,
    PeersStored,
    PendingLoaded,
    Persist,
    ProposalsStored,
    ReceiptsLoaded,
    RereadPeers,
    Send,
    SessionsElsewhere,
    Tick,
    TipsStored,
    TokensChanged,
)
from ai_connect.bridge.feed import Feed
from ai_connect.bridge.forgetting import Forgetting
from ai_connect.bridge.guard import ErrorBudget, Guard
from ai_connect.bridge.leases import LeaseDesk
from ai_connect.bridge.queries import Queries
from ai_connect.bridge.receipts import ReceiptDesk
from ai_connect.bridge.refusal import Refusal
from ai_connect.bridge.registration import Registration
from ai_connect.bridge.retention import Retention
from ai_connect.bridge.state import (
    ALLOWED,
    CLOSE_AUTH,
    CLOSE_GOING_AWAY,
    CLOSE_POLICY,
    CLOSE_REPLACED,
    Census,
    Conn,
    Phase,
    Registry,
    RouterConfig,
)
from ai_connect.bridge.store.base import (
    AppendOp,
    ForgetOp,
    LeaseDrop,
    LeaseRecord,
    PeerRecord,
    ProposalRecord,
    PruneOp,
    TokenRecord,
    WorkRecord,
)
from ai_connect.bridge.work import WorkBoard
from ai_connect.protocol import (
    Ack,
    AdminBrakes,
    AdminForget,
    AdminHistory,
    AdminResume,
    AdminSearch,
    AdminStatus,
    Claim,
    Claims,
    ClientFrame,
    Error,
    ErrorCode,
    FeedSnapshot,
    FeedSync,
    Forget,
    Hello,
    History,
    Human,
    LeaseCheck,
    Peers,
    Ping,
    Pong,
    Proposals,
    ProposalStatus,
    Propose,
    Receipts,
    Release,
    Rid,
    Search,
    Status,
    Vote,
    Withdraw,
    Work,
)
from ai_connect.protocol import Send as SendFrame
from ai_connect.protocol.hot import HotAck, HotSend

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


class Router:
    """Routes frames between connections; owns the in-memory view of peers.

    ``handle`` is the one entry point: it matches the event and hands it to the part
    that owns it (see the module docstring for the parts).
    """

    def __init__(
        self,
        config: RouterConfig,
        peers: Iterable[PeerRecord],
        ids: Iterator[str],
        tokens: Iterable[TokenRecord] = (),
        proposals: Iterable[ProposalRecord] = (),
        leases: Iterable[LeaseRecord] = (),
        works: Iterable[WorkRecord] = (),
    ) -> None:
        self.config = config
        registry = Registry(peers)
        auth = Authenticator(tokens, required=config.require_auth)
        guard = Guard(config.limits)
        self._registry = registry
        self._feed = feed = Feed(registry)
        self._braking = Braking(config, registry, auth, ids)
        self._delivery = Delivery(config, registry, ids, self._braking.paused_reason, feed)
        self._registration = Registration(config, registry, auth, guard, self._delivery, feed)
        self._cluster = Cluster(registry, self._delivery, self._registration.announce)
        self._queries = Queries(config, registry, auth, guard)
        self._book = ConsensusBook(proposals, ids, registry, feed)
        self._receipts = ReceiptDesk(registry, self._delivery.unshown)
        self._forgetting = Forgetting(registry, auth)
        self._retention = Retention(config, registry)
        self._errors = ErrorBudget(config.limits)
        self._work = WorkBoard(registry, feed, works)
        self._leases = LeaseDesk(config, leases, ids, registry)

    # --- introspection (tests, status) -------------------------------------------------

    def sessions(self) -> dict[str, str | None]:
        """Address -> session id of every address a connection here owns (the heartbeat
        of a node sharing its database: bridge/cluster.py)."""
        conns = self._registry.conns
        return {
            a: (c.session if (c := conns.get(p.conn)) is not None else None)
            for a, p in self._registry.peers.items()
            if p.conn is not None
        }

    def registered(self) -> dict[str, float]:
        """Address -> when the connection here that owns it registered (the heartbeat:
        the latest hello of a session holds its address among nodes)."""
        conns = self._registry.conns
        return {
            a: c.registered
            for a, p in self._registry.peers.items()
            if p.conn is not None and (c := conns.get(p.conn)) is not None
        }

    def held(self, address: str) -> bool:
        """Whether a connection here acts for ``address`` (its owner or an attached one)."""
        peer = self._registry.peers.get(address)
        return peer is not None and bool(self._registry.conns_of(peer))

    @property
    def online(self) -> dict[str, int]:
        """Address -> connection id of every registered connection."""
        return {a: p.conn for a, p in self._registry.peers.items() if p.conn is not None}

    def census(self) -> Census:
        """Peers, connections, unread mail and what the router did, for ``/metrics``."""
        return self._registry.census()

    def address_of(self, conn: int) -> str | None:
        state = self._registry.conns.get(conn)
        return state.address if state else None

    # --- dispatch ------------------------------------------------------------------------

    def handle(self, event: Event) -> list[Action]:
        out = self._handle(event)
        if self._delivery.marks_due and (
            isinstance(event, Tick) or any(isinstance(a, Persist) for a in out)
        ):
            # Delivery marks ride along in a commit that happens anyway (or the timer's).
            out += self._delivery.flush_marks()
        return out

    def _handle(self, event: Event) -> list[Action]:
        match event:
            case Connected(conn_id, now, remote):
                return self._registration.on_connected(conn_id, now, remote)
            case FrameReceived(conn_id, frame, now, retried, final):
                conn = self._registry.conns.get(conn_id)
                if conn is None:
                    return []
                conn.last_activity = now
                if self._reread_first(frame, retried):
                    return [RereadPeers(conn_id, frame)]
                try:
                    out = self._on_frame(conn, frame, now)
                except Refusal as refusal:
                    if self._reread(refusal, frame, final):
                        return [RereadPeers(conn_id, frame)]
                    out = self._refuse(conn, refusal, getattr(frame, "rid", None), now)
                    if isinstance(refusal, AuthRefusal) and isinstance(frame, Hello):
                        # A failed login: logged, and its refusal held (bridge/logins.py).
                        failed = self._registration.login_failed(conn, frame, refusal, now)
                        out.insert(0, failed)
                return out + self._registration.draw(conn, now, _entries(out))
            case BadFrame(conn_id, error, now):
                conn = self._registry.conns.get(conn_id)
                if conn is None:
                    return []
                conn.last_activity = now
                out = self._refuse(conn, Refusal.of(error), error.rid, now)
                return out + self._registration.draw(conn, now)
            case Disconnected(conn_id, now):
                self._errors.forget(conn_id)
                return self._registration.on_disconnected(conn_id, now)
            case TokensChanged(tokens, now):
                return self._registration.on_tokens(tokens, now)
            case TipsStored(tips, acked, now):
                return self._cluster.on_tips(dict(tips), dict(acked), now)
            case PeersStored(records, now, works):
                return self._cluster.on_stored(records, now) + self._work.on_stored(works, now)
            case ProposalsStored(records, now):
                return self._book.on_stored(records, now)
            case ForgottenElsewhere(address, _now):
                return self._forgetting.on_forgotten_elsewhere(address)
            case LeasesStored(records):
                self._leases.on_stored(records)
                return []
            case SessionsElsewhere(sessions, now, nodes, since):
                self._registry.nodes = nodes
                return self._cluster.on_sessions(dict(sessions), now, dict(since))
            case Committed(appends, acks, proposals, forgets, upkeep, pruned, now, leases, written):
                replies = self._book.committed(proposals, now, written)  # §8: after the commit
                replies += self._leases.committed(leases)  # §10: so do lease answers
                replies += self._forgetting.on_committed(forgets)
                replies += self._leases.forgotten(
                    p.op.address for p in forgets if isinstance(p.op, ForgetOp)
                )
                self._delivery.buried(upkeep)
                if any(isinstance(p.op, PruneOp) for p in upkeep):
                    self._retention.on_committed(pruned)
                return self._delivery.on_committed(appends, acks, now) + replies
            case CommitFailed(persists, reason):
                reread = self._book.failed(
                    p.op for p in persists if isinstance(p.op, ProposalRecord)
                )
                self._leases.failed(
                    p for p in persists if isinstance(p.op, LeaseRecord | LeaseDrop)
                )
                self._delivery.buried(persists)
                self._forgetting.failed(persists)
                if any(isinstance(p.op, PruneOp) for p in persists):
                    self._retention.on_failed()
                return reread + self._commit_failed(persists, reason)
            case PendingLoaded(conn_id, after_seq, entries, now, prepared):
                return self._delivery.on_loaded(conn_id, after_seq, entries, now, prepared)
            case Answered(conn_id, messages, now):
                conn = self._registry.conns.get(conn_id)
                if conn is None or messages <= 1:
                    return []
                return self._registration.draw(conn, now, messages - 1)
            case ReceiptsLoaded():
                return self._receipts.on_loaded(event)
            case Tick(now):
                self._braking.forget_idle(now)
                out = self._retention.on_tick(now)
                out += self._registration.on_tick(now)
                out += self._book.tick(now)
                out += self._leases.tick(now)
                return out + self._registration.recheck(now)

    def _on_frame(
        self, conn: Conn, frame: ClientFrame | HotSend | HotAck, now: float
    ) -> list[Action]:
        """The actions for one decoded frame; raises :class:`Refusal` to refuse it."""
        if frame.type not in ALLOWED[conn.phase]:
            if conn.phase is Phase.NEW:
                code, hint = ErrorCode.NOT_REGISTERED, "send hello first"
            elif conn.phase is Phase.QUERY:
                code, hint = ErrorCode.FORBIDDEN, "a query connection only asks; connect as a peer"
            elif conn.phase is Phase.OBSERVE:
                code, hint = ErrorCode.FORBIDDEN, "an observer watches and sends; connect as a peer"
            else:
                code, hint = ErrorCode.ALREADY_REGISTERED, "open a new connection"
            why = f"{frame.type} is not allowed on a {conn.phase.value} connection"
            raise Refusal(code, why, hint)
        match frame:
            case Hello():
                out = self._registration.on_hello(conn, frame, now)
                if conn.phase is Phase.OBSERVE:  # §9.1: the snapshot follows the welcome
                    out.append(Send(conn.id, self._snapshot(now)))
                return out
            case FeedSync():
                return [Send(conn.id, self._snapshot(now, frame.rid))]
            case SendFrame() | HotSend():
                sender, human = self._delivery.sender_of(conn, frame)
                out, target = self._delivery.on_send(conn, frame, now, sender, human)
                out += self._braking.on_send(conn, frame, now, sender, target, human)  # §3.6
                return out + self._book.on_message(sender, frame.thread, frame.body, now)
            case Ack() | HotAck():
                return self._delivery.on_ack(conn, frame, now)
            case Peers():
                return self._queries.on_peers(conn, frame, now)
            case History():
                return self._queries.on_history(conn, frame, now)
            case Search():
                return self._queries.on_search(conn, frame, now)
            case Status():
                return self._queries.on_status(conn, frame, now)
            case Receipts():
                return self._receipts.on_request(conn, frame)
            case AdminStatus() | AdminHistory() | AdminSearch():
                return self._queries.on_admin(conn, frame, now)
            case Human() | AdminBrakes() | AdminResume():
                return self._braking.on_frame(conn, frame)
            case Propose() | Vote() | ProposalStatus() | Proposals() | Withdraw():
                assert conn.address is not None
                return self._book.on_request(frame, conn.address, Origin(conn.id, frame.rid), now)
            case Ping():
                return [Send(conn.id, Pong(rid=frame.rid))]
            case Forget():
                return self._forgetting.on_forget(conn, frame, now)
            case AdminForget():
                return self._forgetting.on_admin_forget(conn, frame, now)
            case Work():
                return self._work.on_work(conn, frame, now)
            case Claim() | Release() | Claims() | LeaseCheck():
                return self._leases.on_request(conn, frame, now)

    def _snapshot(self, now: float, rid: Rid | None = None) -> FeedSnapshot:
        """What an observer starts from (§9.1)."""
        book, unshown = self._book.open_views(), self._delivery.unshown
        return self._feed.snapshot(now, book, unshown, rid)

    def _refuse(self, conn: Conn, refusal: Refusal, rid: Rid | None, now: float) -> list[Action]:
        """The one place a refusal becomes an ``error`` frame; too many of them within the
        error window close the connection (§5)."""
        error = refusal.error(rid)
        refused = self._registry.counts.refused
        refused[error.code] = refused.get(error.code, 0) + 1
        out: list[Action] = [Send(conn.id, error)]
        why = self._errors.charge(conn.id, now)
        if why is not None:
            out.append(Close(conn.id, CLOSE_POLICY, why))
        return out

    def _reread_first(self, frame: ClientFrame | HotSend | HotAck, retried: bool) -> bool:
        """On a database other nodes share, the peers are re-read first for a broadcast
        (it goes to every peer the database knows, those registered elsewhere a moment ago
        too) and for a hello (its mailbox may have moved on elsewhere; its name may be
        held on another node)."""
        if not self.config.shared or retried:
            return False
        if isinstance(frame, Hello):  # fresh tips and sessions: its mailbox, Name#2
            return True
        return isinstance(frame, SendFrame | HotSend) and frame.to == identity.BROADCAST

    def _reread(self, refusal: Refusal, frame: ClientFrame | HotSend | HotAck, final: bool) -> bool:
        """Whether to look again before refusing, on a database other nodes share: a send
        or a proposal to an unknown peer (one of them may have registered it a moment
        ago); a vote, a withdrawal or a status of an unknown proposal (made on another
        node: its participant may hold the question before this node re-read the
        proposals)."""
        if not self.config.shared or final:
            return False
        if refusal.code is ErrorCode.UNKNOWN_PEER:
            return isinstance(frame, SendFrame | HotSend | Propose)
        return refusal.code is ErrorCode.UNKNOWN_PROPOSAL

    def _commit_failed(self, persists: Iterable[Persist], reason: str) -> list[Action]:
        """Nothing of a rolled-back batch is stored: everyone who asked is told so."""
        out: list[Action] = []
        for persist in persists:
            origin = persist.origin
            if origin is not None and origin.conn in self._registry.conns:
                error = Error(
                    rid=origin.rid,
                    code=ErrorCode.INTERNAL,
                    message=f"the bridge could not store this: {reason}",
                    hint="nothing was accepted; send it again (same cid) later",
                )
                out.append(Send(origin.conn, error))
        return out


def _entries(actions: Iterable[Action]) -> int:
    """Mailbox entries the actions store: what a frame costs its sender's rate (§5.1)."""
    return sum(
        len(a.op.recipients)
        for a in actions
        if isinstance(a, Persist) and isinstance(a.op, AppendOp)
    )
