"""The router's shared records: peers, connections, attachments; the phase table; the config.

:class:`Registry` is the one object every part of the router
(:mod:`~ai_connect.bridge.registration`, :mod:`~ai_connect.bridge.delivery`,
:mod:`~ai_connect.bridge.queries`, :mod:`~ai_connect.bridge.consensus_router`) is given to
read and write the peers and connections; each part's constructor says what else it
needs. Section numbers refer to docs/protocol.md.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import Enum

from ai_connect import identity
from ai_connect.bridge.brake import BrakeLimits
from ai_connect.bridge.logins import LoginPolicy
from ai_connect.bridge.refusal import Refusal
from ai_connect.bridge.store.base import MailboxEntry, PeerRecord
from ai_connect.errors import UnknownPeer
from ai_connect.protocol import CLOSE_AUTH, Limits, WorkView

__all__ = [
    "ALLOWED",
    "CLOSE_AUTH",
    "CLOSE_GOING_AWAY",
    "CLOSE_POLICY",
    "CLOSE_REPLACED",
    "Census",
    "Conn",
    "Counts",
    "Peer",
    "Phase",
    "Registry",
    "RouterConfig",
]

CLOSE_POLICY = 1008
CLOSE_GOING_AWAY = 1001
CLOSE_REPLACED = 4000
# CLOSE_AUTH (4001, protocol.limits): the token was revoked or expired, or auth turned on.


class Phase(Enum):
    """The life of one connection (§2)."""

    NEW = "new"
    """Connected, no hello yet: only ``hello`` and ``ping`` are allowed."""
    REGISTERED = "registered"
    QUERY = "query"
    """Authenticated as an address that it only asks about (``hello`` mode ``query``, §2.4)."""
    OBSERVE = "observe"
    """An operator's view (``hello`` mode ``observe``, §9): asks, gets the event feed, and
    may send as a human; never a peer."""


ALLOWED: dict[Phase, frozenset[str]] = {
    Phase.NEW: frozenset({"hello", "ping"}),
    Phase.REGISTERED: frozenset(
        {"send", "ack", "peers", "history", "search", "status", "ping", "receipts"}
        | {"admin_status", "admin_history", "admin_search", "admin_brakes", "admin_resume"}
        | {"human"}
        | {"propose", "vote", "proposal_status", "proposals", "withdraw", "forget"}
        | {"admin_forget"}
        | {"work"}
        | {"claim", "release", "claims", "lease_check"}
    ),
    Phase.QUERY: frozenset(
        {"peers", "history", "search", "status", "ping", "admin_status", "admin_history"}
        | {"admin_search"}
        | {"admin_brakes", "admin_resume", "admin_forget", "proposal_status", "proposals"}
        | {"receipts", "claims", "lease_check"}
    ),
    Phase.OBSERVE: frozenset(
        {"peers", "history", "search", "status", "ping", "admin_status", "admin_history"}
        | {"admin_search"}
        | {"admin_brakes", "admin_resume", "admin_forget", "proposal_status", "proposals"}
        | {"send", "receipts", "feed_sync", "claims"}
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
    brake: BrakeLimits = field(default_factory=BrakeLimits)
    shared: bool = False
    """Other bridge nodes write the same database (PostgreSQL; bridge/cluster.py)."""
    """When the loop brake pauses a conversation (§3.6)."""
    logins: LoginPolicy = field(default_factory=LoginPolicy)
    """How failed logins are slowed per address (docs/security.md)."""


@dataclass(slots=True)
class Peer:
    """A known address: the stored :class:`PeerRecord` fields, plus who holds it now."""

    address: str
    name: str
    project: str
    first_seen: float
    last_seen: float
    tip: int = 0
    acked: int = 0
    conn: int | None = None
    """The connection that owns the address (``None``: offline)."""
    stored_acked: int = 0
    """``acked`` as far as it is committed: all an ``acked`` reply may promise (§3.3)."""
    work: WorkView | None = None
    """Its last published work status (§11), kept across restarts."""
    elsewhere: bool = False
    """Held by another bridge node sharing the database (its heartbeat is fresh)."""
    elsewhere_session: str | None = None
    """That session's id (a hello with the same id takes the address over)."""

    @property
    def online(self) -> bool:
        """Held by a connection here or on another node."""
        return self.conn is not None or self.elsewhere

    @classmethod
    def from_record(cls, r: PeerRecord) -> Peer:
        """The peer as the store left it: offline, everything it acked committed."""
        return cls(
            r.address, r.name, r.project, r.first_seen, r.last_seen, r.tip, r.acked, None, r.acked
        )

    def record(self) -> PeerRecord:
        """What the store keeps of this peer."""
        return PeerRecord(
            self.address,
            self.name,
            self.project,
            self.first_seen,
            self.last_seen,
            self.tip,
            self.acked,
        )


@dataclass(slots=True)
class Conn:
    """One WebSocket connection, from its ``Connected`` to its ``Disconnected``."""

    id: int
    remote: str
    last_activity: float
    phase: Phase = Phase.NEW
    address: str | None = None
    session: str | None = None
    attached: bool = False
    """Registered with ``attach``: acts for ``address`` beside its owner (§2.2)."""
    watch_presence: bool = False
    receipts: bool = False
    """Its hello asked for receipts on every send (§3.7)."""
    sent: int = 0
    """Highest mailbox seq sent on this connection."""
    loading: bool = False
    inflight: deque[tuple[int, int]] | None = None
    """The entries sent and not acked, in order, each with its flow size. ``None`` while
    there is none (as ``ready``): most connections are idle most of the time."""
    inflight_bytes: int = 0
    ready: deque[tuple[MailboxEntry, int, bytes | None]] | None = None
    """The next mailbox entries after ``sent``, in order, kept in memory until the window
    has room for them: committed while it was full, or read ahead from the store
    (bridge/delivery.py); each with its flow size and, if read ahead, its ``deliver``
    tail made on the reader thread. ``None`` while there is none: an
    empty deque costs ~0.6 KB, and most connections never need one."""
    ready_bytes: int = 0
    """Bytes held in ``ready``: flow sizes, and the encoded tails read ahead with them."""
    through: int = -1
    """``ready`` holds every entry up to this seq (``-1``: unknown -- what is past
    ``ready`` must be read from the store)."""
    token_id: str | None = None
    """The auth token this connection registered with (docs/security.md)."""
    token_name: str | None = None
    admin: bool = False
    kind: str = ""
    """The client kind its hello named (``cli``: a person's command line; ``mcp``: an
    agent's MCP server)."""
    noticed: float = float("-inf")
    """When it was last told ``rate_limited``."""
    registered: float = 0.0
    """When its hello registered it (wall clock): among nodes sharing a database, the
    latest hello of a session holds its address (bridge/cluster.py)."""


class Counts:
    """What the router has done since it started, for ``/metrics`` (plain integers:
    bumping one costs no allocation; bridge/metrics.py reads them when scraped)."""

    __slots__ = ("accepted", "acked", "delivered", "duplicates", "refused", "throttled")

    def __init__(self) -> None:
        self.accepted = 0
        """Messages stored (a broadcast is one)."""
        self.duplicates = 0
        """Resends answered from the stored message."""
        self.delivered = 0
        """``deliver`` frames sent, redeliveries included."""
        self.acked = 0
        """Mailbox entries acked (shown to their agent)."""
        self.throttled = 0
        """Times a connection was slowed to its rate (§5.1)."""
        self.refused: dict[str, int] = {}
        """``error`` frames sent, by code."""


@dataclass(frozen=True, slots=True)
class Census:
    """The registry at one moment, for ``/metrics``."""

    known: int
    online: int
    connections: int
    unread: int
    """Mailbox entries not acked, over all peers."""
    unread_max: int
    """The most unacked entries of one peer."""
    counts: Counts


class Registry:
    """Who is known, who is connected, and which connections act for which address."""

    def __init__(self, records: Iterable[PeerRecord]) -> None:
        self.peers: dict[str, Peer] = {r.address: Peer.from_record(r) for r in records}
        """Address -> every peer the bridge knows, online or not."""
        self.conns: dict[int, Conn] = {}
        """Connection id -> every open connection, registered or not."""
        self.attached: dict[str, set[int]] = {}
        self.watchers: set[int] = set()
        """Ids of the connections whose hello asked for ``presence`` events (and maybe
        closed since: whoever reads it drops those it no longer finds in ``conns``)."""
        self.nodes: tuple[tuple[str, str, float, int, bool], ...] = ()
        """The bridge nodes on a shared database, from their heartbeats (bridge/cluster.py):
        (id, URL, seconds since the heartbeat, sessions, this one)."""
        """Address -> ids of the connections attached to it (§2.2)."""
        self.counts = Counts()

    def census(self) -> Census:
        """Counts of peers, connections and unread mail (O(peers): for scrapes only)."""
        unread = [p.tip - p.acked for p in self.peers.values()]
        return Census(
            known=len(self.peers),
            online=sum(1 for p in self.peers.values() if p.conn is not None),
            connections=len(self.conns),
            unread=sum(unread),
            unread_max=max(unread, default=0),
            counts=self.counts,
        )

    def conns_of(self, peer: Peer) -> list[Conn]:
        """Every connection acting for ``peer``: its owner first, then attached ones."""
        if peer.address not in self.attached:  # the usual case: its owner alone, or none
            owner = self.conns.get(peer.conn) if peer.conn is not None else None
            return [owner] if owner is not None else []
        ids = [peer.conn] if peer.conn is not None else []
        ids += sorted(self.attached.get(peer.address, ()))
        return [c for i in ids if (c := self.conns.get(i)) is not None]

    def owner(self, address: str) -> Conn | None:
        """The connection that owns ``address``, if it is online."""
        peer = self.peers.get(address)
        return self.conns.get(peer.conn) if peer is not None and peer.conn is not None else None

    def listed(self, include_offline: bool = True) -> list[Peer]:
        """The peers as ``peers`` lists them: online ones first, each group by address."""
        peers = [p for p in self.peers.values() if include_offline or p.online]
        peers.sort(key=lambda p: (not p.online, p.address.casefold()))
        return peers

    def online(self) -> list[str]:
        """The addresses an owner connection holds, in the order they became known."""
        return [a for a, p in self.peers.items() if p.conn is not None]

    def resolve(self, target: str, asking: str | None = None) -> str:
        """The one known address ``target`` names (§3.1); raises :class:`Refusal`
        (``unknown_peer`` or ``ambiguous_peer``, with the candidates, never ``asking``)
        otherwise."""
        try:
            return identity.resolve(target, self.peers.keys(), asking)
        except UnknownPeer as exc:
            raise Refusal.of(exc) from exc
