"""Events into the router and actions out of it (frozen dataclasses, no behaviour).

The server driver turns what happens on sockets, timers and the store into events, calls
``Router.handle(event)`` and carries out the actions it gets back, in order.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ai_connect.bridge.store.base import (
    AckOp,
    AppendOp,
    AppendResult,
    BuryOp,
    DeliveredOp,
    ForgetOp,
    LeaseDrop,
    LeaseRecord,
    MailboxEntry,
    PeerRecord,
    ProposalRecord,
    PruneOp,
    Receipts,
    TokenRecord,
    WorkRecord,
)
from ai_connect.errors import FrameError
from ai_connect.protocol import ClientFrame, Rid, ServerFrame, decode_server
from ai_connect.protocol.hot import HotAck, HotSend

__all__ = [
    "Action",
    "Answered",
    "BadFrame",
    "Braked",
    "Close",
    "CommitFailed",
    "Committed",
    "Connected",
    "Damaged",
    "Disconnected",
    "Event",
    "ForgottenElsewhere",
    "FrameReceived",
    "LeasesStored",
    "LoadPending",
    "LoginFailed",
    "Origin",
    "PeersStored",
    "PendingLoaded",
    "Persist",
    "ProposalsStored",
    "QueryHistory",
    "QueryReceipts",
    "QuerySearch",
    "ReceiptsLoaded",
    "RereadPeers",
    "RereadProposals",
    "Send",
    "SessionsElsewhere",
    "Throttle",
    "Tick",
    "TipsStored",
    "TokensChanged",
]


# --- events ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Connected:
    conn: int
    now: float
    remote: str = ""


@dataclass(frozen=True, slots=True)
class FrameReceived:
    conn: int
    frame: ClientFrame | HotSend | HotAck
    """A ``send`` or ``ack`` may come as its fast twin (protocol/hot.py)."""
    now: float
    retried: bool = False
    """Handed in again after the peers were re-read (:class:`RereadPeers`)."""
    final: bool = False
    """Its wait for another node's commit is over: refused if it still names nobody."""


@dataclass(frozen=True, slots=True)
class BadFrame:
    conn: int
    error: FrameError
    now: float


@dataclass(frozen=True, slots=True)
class Disconnected:
    conn: int
    now: float


@dataclass(frozen=True, slots=True)
class Origin:
    """Who asked for a write, so the reply can follow its commit."""

    conn: int
    rid: Rid


@dataclass(frozen=True, slots=True)
class Committed:
    """A write batch is durable. ``appends`` pairs each append with its result."""

    appends: tuple[tuple[Persist, AppendResult], ...]
    acks: tuple[Persist, ...]
    proposals: tuple[Persist, ...] = ()
    """Proposal records stored (docs/protocol.md §8)."""
    forgets: tuple[Persist, ...] = ()
    """Addresses forgotten (docs/protocol.md §2.5)."""
    upkeep: tuple[Persist, ...] = ()
    """Damaged messages moved aside (``BuryOp``) and retention (``PruneOp``)."""
    pruned: int = 0
    """Messages the ``PruneOp`` deleted."""
    now: float = 0.0
    """When the commit returned (deliveries it starts are marked with it)."""
    leases: tuple[Persist, ...] = ()
    """File leases stored or dropped (docs/protocol.md §10)."""
    written: Mapping[str, dict[str, Any]] = field(default_factory=dict)
    """Proposals stored otherwise than their records said (``CommitResult.proposals``)."""


@dataclass(frozen=True, slots=True)
class CommitFailed:
    """A write batch was rolled back: nothing of it is stored."""

    persists: tuple[Persist, ...]
    reason: str


@dataclass(frozen=True, slots=True)
class PendingLoaded:
    conn: int
    after_seq: int
    entries: tuple[MailboxEntry, ...]
    now: float = 0.0
    prepared: tuple[tuple[bytes, int] | None, ...] = ()
    """Per entry, its ``deliver`` tail (not paused) and flow size, made on the reader
    thread with the page (``views.prepare``); ``None`` for a damaged one. Empty: none."""


@dataclass(frozen=True, slots=True)
class Tick:
    now: float


@dataclass(frozen=True, slots=True)
class Answered:
    """A query of ``conn`` was answered with ``messages`` messages: each past the first
    costs its rate budget one frame more (§5.1), as each message a ``send`` stores does."""

    conn: int
    messages: int
    now: float


@dataclass(frozen=True, slots=True)
class ReceiptsLoaded:
    """The store's answer to :class:`QueryReceipts` (``error``: it could not read)."""

    conn: int
    rid: Rid
    message_id: str
    receipts: Receipts | None
    now: float
    error: str | None = None


@dataclass(frozen=True, slots=True)
class TokensChanged:
    """The stored auth tokens differ from the router's (created, revoked, deleted)."""

    tokens: tuple[TokenRecord, ...]
    now: float


@dataclass(frozen=True, slots=True)
class PeersStored:
    """The peer records as the shared database holds them, re-read after another bridge
    node committed (PostgreSQL, docs/deploy.md): their mailbox tips and acks moved there."""

    records: tuple[PeerRecord, ...]
    now: float
    works: tuple[WorkRecord, ...] = ()
    """The work statuses as the database holds them (published through other nodes)."""


@dataclass(frozen=True, slots=True)
class TipsStored:
    """Another node committed messages and acks only, and its notice said where the
    mailboxes are now (PostgreSQL ``TIPS``): nothing to re-read."""

    tips: tuple[tuple[str, int], ...]
    """Recipient -> its mailbox's new tip."""
    acked: tuple[tuple[str, int], ...]
    """Recipient -> the seq its ack reached."""
    now: float


@dataclass(frozen=True, slots=True)
class ProposalsStored:
    """The proposals as the shared database holds them, re-read after another node
    committed a change to one (a proposal, a vote, a verdict): see consensus_router.py."""

    records: tuple[ProposalRecord, ...]
    now: float


@dataclass(frozen=True, slots=True)
class ForgottenElsewhere:
    """Another node committed the forgetting of ``address`` (``admin_forget`` there):
    this node closes the connections it holds for it and drops it (bridge/forgetting.py)."""

    address: str
    now: float


@dataclass(frozen=True, slots=True)
class LeasesStored:
    """The file leases as the shared database holds them, re-read after another bridge
    node committed (docs/protocol.md §10): claims and releases made there."""

    records: tuple[LeaseRecord, ...]
    now: float


@dataclass(frozen=True, slots=True)
class SessionsElsewhere:
    """The sessions other bridge nodes hold now, from their heartbeats (address, session
    id): see bridge/cluster.py."""

    sessions: tuple[tuple[str, str | None], ...]
    now: float
    nodes: tuple[tuple[str, str, float, int, bool], ...] = ()
    """Every node's (id, URL, seconds since its heartbeat, sessions, whether it is this
    one), for ``admin_status``."""
    since: tuple[tuple[str, float], ...] = ()
    """(address, when its session's hello registered it there): a session here that
    registered earlier moved there (bridge/cluster.py)."""


Event = (
    Answered
    | Connected
    | FrameReceived
    | BadFrame
    | Disconnected
    | Committed
    | CommitFailed
    | PendingLoaded
    | Tick
    | TokensChanged
    | ReceiptsLoaded
    | PeersStored
    | TipsStored
    | SessionsElsewhere
    | ForgottenElsewhere
    | ProposalsStored
    | LeasesStored
)


# --- actions --------------------------------------------------------------------------


class Send:
    """Send ``frame`` to ``conn``; or ``data``, a frame the router encoded already (the
    hot frames ``deliver`` and ``accepted``, protocol/hot.py: a broadcast's ``deliver`` is
    encoded once for all its recipients). ``frame`` then decodes ``data`` when asked
    (tests, observers); the server writes ``data`` as it is."""

    __slots__ = ("_frame", "conn", "data")
    __match_args__ = ("conn", "frame")

    def __init__(
        self, conn: int, frame: ServerFrame | None = None, *, data: bytes | None = None
    ) -> None:
        if (frame is None) == (data is None):
            raise TypeError("Send takes a frame or its encoded data, one of them")
        self.conn = conn
        self._frame = frame
        self.data = data

    @property
    def frame(self) -> ServerFrame:
        if self._frame is None:
            assert self.data is not None
            self._frame = decode_server(self.data)
        return self._frame

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Send):
            return NotImplemented
        return self.conn == other.conn and self.frame == other.frame

    def __hash__(self) -> int:
        return hash((self.conn, self.frame))

    def __repr__(self) -> str:
        return f"Send(conn={self.conn!r}, frame={self.frame!r})"


@dataclass(frozen=True, slots=True)
class Close:
    conn: int
    code: int
    reason: str


@dataclass(frozen=True, slots=True)
class Persist:
    """Write ``op`` in the next group commit; answer ``origin`` after it."""

    op: (
        PeerRecord
        | AppendOp
        | AckOp
        | ProposalRecord
        | ForgetOp
        | BuryOp
        | PruneOp
        | DeliveredOp
        | WorkRecord
        | LeaseRecord
        | LeaseDrop
    )
    origin: Origin | None = None


@dataclass(frozen=True, slots=True)
class RereadPeers:
    """On a database other nodes share: re-read the peers (``PeersStored``), since one of
    them may have just registered a peer a ``send`` names, or moved the mailbox of a peer
    that just registered here; then hand ``frame`` (if any) in again
    (``FrameReceived(retried=True)``; ``final`` once its wait is over), in order."""

    conn: int
    frame: ClientFrame | HotSend | HotAck | None = None


@dataclass(frozen=True, slots=True)
class RereadProposals:
    """On a database other nodes share: read the proposals again (``ProposalsStored``).
    A read was set aside for a change of this node's then being committed; that commit
    is in, and the read may have been newer than it (bridge/consensus_router.py)."""


@dataclass(frozen=True, slots=True)
class LoadPending:
    conn: int
    recipient: str
    after_seq: int
    limit: int
    max_bytes: int


@dataclass(frozen=True, slots=True)
class QueryHistory:
    conn: int
    rid: Rid
    viewer: str
    peer: str | None
    limit: int
    before: int | None
    max_bytes: int | None = None
    """The page stops before its bodies and contexts pass this (at least one message)."""


@dataclass(frozen=True, slots=True)
class QuerySearch:
    conn: int
    rid: Rid
    viewer: str
    query: str
    limit: int
    before: int | None = None
    max_bytes: int | None = None


@dataclass(frozen=True, slots=True)
class QueryReceipts:
    """Read message ``message_id``'s receipts from the store for ``conn`` (§3.7); the
    answer comes back as :class:`ReceiptsLoaded`."""

    conn: int
    rid: Rid
    message_id: str


@dataclass(frozen=True, slots=True)
class Throttle:
    """Do not read the next frame of ``conn`` for ``seconds`` (rate limit, §5.1)."""

    conn: int
    seconds: float


@dataclass(frozen=True, slots=True)
class Braked:
    """The loop brake paused a conversation (§3.6): tell the operator (the server logs it)."""

    conversation: str
    parties: tuple[str, ...]
    reason: str


@dataclass(frozen=True, slots=True)
class Damaged:
    """A mailbox held a message that cannot be read back as stored; it is being moved to
    the dead letters and the rest delivered. Tell the operator (once: the server logs it)."""

    recipient: str
    seq: int
    message_id: str
    reason: str


@dataclass(frozen=True, slots=True)
class LoginFailed:
    """A ``hello`` was refused its token (docs/security.md): log it at INFO with the remote
    address, and hold what follows for ``conn`` (its refusal) ``hold_s`` seconds, reading
    nothing from it meanwhile (:mod:`ai_connect.bridge.logins`)."""

    conn: int
    remote: str
    name: str
    project: str
    reason: str
    failures: int
    """Failed logins from this address, this one included (bridge/logins.py)."""
    hold_s: float


Action = (
    Send
    | Close
    | Persist
    | LoadPending
    | QueryHistory
    | QuerySearch
    | QueryReceipts
    | Throttle
    | Braked
    | Damaged
    | LoginFailed
    | RereadPeers
    | RereadProposals
)
