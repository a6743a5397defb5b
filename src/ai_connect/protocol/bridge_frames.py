"""The frames the bridge sends to a client (docs/protocol.md §2, §3, §4, §8)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from ai_connect.protocol.frame import Frame, Rid, frame_table
from ai_connect.protocol.lease_frames import LeaseReport
from ai_connect.protocol.limits import PROTOCOL_VERSION

__all__ = [
    "SERVER_FRAMES",
    "Accepted",
    "Acked",
    "Brakes",
    "BridgeReport",
    "Deliver",
    "Error",
    "FeedDelivery",
    "FeedEvent",
    "FeedMessage",
    "FeedPeer",
    "FeedSnapshot",
    "Forgotten",
    "HistoryPage",
    "MessageView",
    "NodeDetail",
    "PeerDetail",
    "PeerList",
    "PeerView",
    "Pong",
    "Presence",
    "ProposalInfo",
    "ProposalList",
    "ReceiptNotice",
    "ReceiptReport",
    "RecipientState",
    "SearchResults",
    "ServerFrame",
    "StatusReport",
    "Welcome",
]


class MessageView(Frame):
    """A stored message as a client sees it (history, search)."""

    id: str
    from_: str = Field(alias="from")
    to: str
    body: str
    context: dict[str, Any] | None = None
    thread: str | None = None
    reply_to: str | None = None
    ts: float
    human: bool | None = None
    """``true``: sent by a person through an observer connection (§9.3), not by an agent
    (absent otherwise)."""


class PeerView(Frame):
    address: str
    name: str
    project: str
    online: bool
    last_seen: float


class Welcome(Frame):
    type: Literal["welcome"] = "welcome"
    rid: Rid
    protocol: int = PROTOCOL_VERSION
    address: str
    name: str
    project: str
    server: str
    unread: int
    tip: int
    acked: int
    limits: dict[str, int | float] = Field(default_factory=dict)


class Accepted(Frame):
    """The message is durably stored (§3.1); a duplicate ``cid`` gets the same answer."""

    type: Literal["accepted"] = "accepted"
    rid: Rid
    cid: str
    id: str
    ts: float
    to: str
    recipients: list[str]
    online: list[str]
    duplicate: bool = False
    paused: str | None = None
    """The conversation is paused by the loop brake (§3.6): stored, but wakes nobody."""


class Deliver(Frame):
    """A mailbox entry pushed to its recipient (§3.2)."""

    type: Literal["deliver"] = "deliver"
    seq: int
    id: str
    from_: str = Field(alias="from")
    to: str
    body: str
    context: dict[str, Any] | None = None
    thread: str | None = None
    reply_to: str | None = None
    ts: float
    paused: str | None = None
    """Its conversation is paused by the loop brake (§3.6): show it, but wake nobody."""
    human: bool | None = None
    """``true``: sent by a person through an observer connection (§9.3), not by an agent
    (absent otherwise)."""


class Acked(Frame):
    """The reply to an ``ack`` with a ``rid``; without one, another connection of the same
    address acked through ``seq`` (§2.2, §3.3)."""

    type: Literal["acked"] = "acked"
    rid: Rid | None = None
    seq: int


class PeerList(Frame):
    type: Literal["peer_list"] = "peer_list"
    rid: Rid
    peers: list[PeerView]


class HistoryPage(Frame):
    type: Literal["history_page"] = "history_page"
    rid: Rid
    messages: list[MessageView]
    before: int | None = None
    """Cursor for the next older page; absent when there is none."""


class SearchResults(Frame):
    type: Literal["search_results"] = "search_results"
    rid: Rid
    messages: list[MessageView]
    before: int | None = None
    """Cursor for the next (older) page of matches; absent when there is none."""


class StatusReport(Frame):
    type: Literal["status_report"] = "status_report"
    rid: Rid
    address: str
    server: str
    protocol: int = PROTOCOL_VERSION
    storage: str
    uptime_s: float
    peers_online: int
    peers_known: int
    unread: int
    tip: int
    acked: int


class PeerDetail(Frame):
    """One peer as an admin sees it (``bridge_report``)."""

    address: str
    online: bool
    last_seen: float
    tip: int
    acked: int
    connections: int
    """Live connections acting for the address: its owner and attached ones."""
    token: str | None = None
    """The name of the token its owning connection registered with."""
    remote: str | None = None
    """``IP:port`` of its owning connection."""


class NodeDetail(Frame):
    """One bridge node on the shared database (PostgreSQL: docs/deploy.md), from its
    heartbeat (``bridge_report``)."""

    node: str
    url: str
    beat_age_s: float
    """Seconds since its last heartbeat, by the database's clock."""
    sessions: int
    """Sessions it holds."""
    alive: bool
    """Its heartbeat is younger than the presence timeout."""
    this: bool
    """The node that answers."""


class BridgeReport(Frame):
    """The reply to ``admin_status`` (§3.5)."""

    type: Literal["bridge_report"] = "bridge_report"
    rid: Rid
    server: str
    storage: str
    uptime_s: float
    auth: bool
    connections: int
    throttled: int
    """Frames after which the bridge paused reading a connection (rate limits, §5.1)."""
    peers: list[PeerDetail]
    nodes: list[NodeDetail] = Field(default_factory=list)
    """Every node on the database (several bridges on PostgreSQL); empty for one bridge."""


class Presence(Frame):
    type: Literal["presence"] = "presence"
    event: Literal["join", "leave"]
    peer: PeerView


class Brakes(Frame):
    """The reply to ``human``, ``admin_brakes`` and ``admin_resume`` (§3.6)."""

    type: Literal["brakes"] = "brakes"
    rid: Rid
    paused: list[dict[str, Any]] = Field(default_factory=list)
    """The conversations still paused: ``conversation``, ``parties``, ``reason``."""
    resumed: list[str] = Field(default_factory=list)
    """The conversations this request resumed."""


class Pong(Frame):
    type: Literal["pong"] = "pong"
    rid: Rid | None = None


class Error(Frame):
    type: Literal["error"] = "error"
    rid: Rid | None = None
    code: str
    message: str
    hint: str = ""
    candidates: list[str] | None = None


class ProposalInfo(Frame):
    """One proposal with its ballots and tally: the reply to every consensus request
    but ``proposals`` (§8). Sent after the change it reports is durably stored."""

    type: Literal["proposal_info"] = "proposal_info"
    rid: Rid
    proposal: dict[str, Any]


class ProposalList(Frame):
    type: Literal["proposal_list"] = "proposal_list"
    rid: Rid
    proposals: list[dict[str, Any]]


class Forgotten(Frame):
    """The reply to ``forget``, once it is committed: the address is no more (§2.5)."""

    type: Literal["forgotten"] = "forgotten"
    rid: Rid
    address: str


# --- receipts (§3.7) ------------------------------------------------------------------


class RecipientState(Frame):
    """One recipient's copy of a message: ``waiting`` (stored in its mailbox, not yet
    delivered), ``delivered`` (pushed to a connection of it) or ``shown`` (acked: its
    agent, or person, was shown it, by ``path``, at ``shown``)."""

    recipient: str
    state: Literal["waiting", "delivered", "shown"]
    seq: int
    delivered: float | None = None
    shown: float | None = None
    path: str | None = None
    online: bool = False


class ReceiptReport(Frame):
    """The reply to ``receipts`` (§3.7)."""

    type: Literal["receipt_report"] = "receipt_report"
    rid: Rid
    id: str
    from_: str = Field(alias="from")
    to: str
    ts: float
    """When it was accepted (stored)."""
    thread: str | None = None
    recipients: list[RecipientState]


class ReceiptNotice(Frame):
    """A notice to the sender of a message that asked for receipts: ``recipient`` was
    shown it (§3.7). No ``rid``."""

    type: Literal["receipt"] = "receipt"
    id: str
    recipient: str
    state: Literal["shown"] = "shown"
    path: str | None = None
    ts: float


# --- the observer feed (§9) -------------------------------------------------------------


class FeedPeer(Frame):
    """A peer as the feed shows it: presence, last seen and its mailbox cursors."""

    address: str
    name: str
    project: str
    online: bool
    last_seen: float
    unread: int
    """Mailbox entries not acked (shown) yet."""
    tip: int
    acked: int
    connections: int
    """Live connections acting for the address: its owner and attached ones."""


class FeedMessage(Frame):
    """A message the bridge stored (``accepted``), as the feed shows it (§9.2)."""

    id: str
    from_: str = Field(alias="from")
    to: str
    recipients: list[str]
    online: list[str]
    thread: str | None = None
    reply_to: str | None = None
    ts: float
    preview: str
    """The first characters of the body (``size`` says how long the whole is)."""
    size: int
    """The body's length in bytes (UTF-8)."""
    context: dict[str, Any] | None = None
    """A summary of the context (file, lines, repo…; never its content), if any."""
    human: bool = False
    paused: str | None = None


class FeedDelivery(Frame):
    """One recipient's copy of a message changed state (§9.2)."""

    id: str
    """The message id."""
    from_: str = Field(alias="from")
    recipient: str
    seq: int
    state: Literal["delivered", "shown"]
    """``delivered``: pushed to a connection of the recipient; ``shown``: acked, the
    recipient's agent (or person) was shown it."""
    path: str | None = None
    """``shown``: the surface that showed it (hook, tool, channel, cli); ``delivered``:
    the kind of the connection it was pushed to (mcp, hook, cli…)."""
    conn: int | None = None
    """The bridge's number of that connection."""
    ts: float


class FeedSnapshot(Frame):
    """What an observer starts from, sent right after its ``welcome`` (§9.1)."""

    type: Literal["feed_snapshot"] = "feed_snapshot"
    rid: Rid | None = None
    """Set when it answers ``feed_sync``; absent after a ``welcome``."""
    ts: float
    peers: list[FeedPeer]
    proposals: list[dict[str, Any]]
    """Open and escalated proposals, with ballots and tally (§8)."""
    unshown: list[FeedDelivery]
    """Messages delivered to a connection and not acked yet (state ``delivered``)."""


class FeedEvent(Frame):
    """One thing that happened, in the order the bridge did it (§9.2)."""

    type: Literal["feed_event"] = "feed_event"
    kind: Literal["message", "delivered", "shown", "join", "leave", "proposal"]
    ts: float
    message: FeedMessage | None = None
    delivery: FeedDelivery | None = None
    peer: FeedPeer | None = None
    proposal: dict[str, Any] | None = None
    change: Literal["proposed", "voted", "escalated", "decided", "expired", "withdrawn"] | None = (
        None
    )
    """``proposal``: what changed."""


ServerFrame = (
    Welcome
    | Accepted
    | Deliver
    | Acked
    | PeerList
    | HistoryPage
    | SearchResults
    | StatusReport
    | BridgeReport
    | Presence
    | Brakes
    | Pong
    | Error
    | ProposalInfo
    | ProposalList
    | Forgotten
    | FeedSnapshot
    | FeedEvent
    | ReceiptReport
    | ReceiptNotice
    | LeaseReport
)

SERVER_FRAMES = frame_table(ServerFrame)
