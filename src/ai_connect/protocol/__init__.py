"""Protocol v1: the frames that travel between clients and the bridge.

JSON text frames over WebSocket, each an object with a ``type``. Requests carry a
client-chosen ``rid`` and every reply echoes it. The full specification, with the
delivery guarantees, is ``docs/protocol.md``; section numbers below refer to it.

This module does no I/O: it validates, decodes and encodes.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ai_connect.errors import FrameError

__all__ = [
    "CLIENT_FRAMES",
    "MAX_CONTEXT_DEPTH",
    "MAX_INT",
    "PROTOCOL_VERSION",
    "SERVER_FRAMES",
    "Accepted",
    "Ack",
    "Acked",
    "AdminHistory",
    "AdminStatus",
    "BridgeReport",
    "ClientFrame",
    "ClientInfo",
    "Deliver",
    "Error",
    "ErrorCode",
    "Hello",
    "History",
    "HistoryPage",
    "Limits",
    "MessageView",
    "PeerDetail",
    "PeerList",
    "PeerView",
    "Peers",
    "Ping",
    "Pong",
    "Presence",
    "ProposalInfo",
    "ProposalList",
    "ProposalStatus",
    "Proposals",
    "Propose",
    "Rid",
    "Search",
    "SearchResults",
    "Send",
    "ServerFrame",
    "Status",
    "StatusReport",
    "Vote",
    "Welcome",
    "Withdraw",
    "decode_client",
    "decode_server",
    "encode",
]

PROTOCOL_VERSION = 1

Rid = Annotated[str, Field(min_length=1, max_length=64)] | int

_NAME_RE = re.compile(r"^[^()#*\x00-\x1f\x7f]{1,64}$")
_PROJECT_RE = re.compile(r"^[^()\x00-\x1f\x7f]{1,128}$")
MAX_CONTEXT_DEPTH = 64
MAX_INT = 2**63 - 1
"""Cursors and sequence numbers are 64-bit (SQLite's INTEGER): larger ones are refused."""
"""Nesting levels allowed in ``send.context``; deeper JSON could not be re-encoded."""


def _depth_ok(value: Any, limit: int) -> bool:
    """Whether ``value`` nests at most ``limit`` levels of objects and arrays (no recursion)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            return False
        children = item.values() if isinstance(item, dict) else item
        stack.extend((c, depth + 1) for c in children if isinstance(c, dict | list))
    return True


class ErrorCode(StrEnum):
    """Error codes of protocol v1 (docs/protocol.md §6)."""

    BAD_JSON = "bad_json"
    BAD_FRAME = "bad_frame"
    UNKNOWN_TYPE = "unknown_type"
    FRAME_TOO_LARGE = "frame_too_large"
    BODY_TOO_LARGE = "body_too_large"
    NOT_REGISTERED = "not_registered"
    ALREADY_REGISTERED = "already_registered"
    PROTOCOL_VERSION = "protocol_version"
    INVALID_NAME = "invalid_name"
    UNKNOWN_PEER = "unknown_peer"
    ADDRESS_IN_USE = "address_in_use"
    AMBIGUOUS_PEER = "ambiguous_peer"
    BAD_ACK = "bad_ack"
    DUPLICATE_RID = "duplicate_rid"
    AUTH_FAILED = "auth_failed"
    FORBIDDEN = "forbidden"
    TOO_MANY_CONNECTIONS = "too_many_connections"
    RATE_LIMITED = "rate_limited"
    TOO_MANY_ERRORS = "too_many_errors"
    SHUTTING_DOWN = "shutting_down"
    INTERNAL = "internal"
    UNKNOWN_PROPOSAL = "unknown_proposal"
    NOT_PARTICIPANT = "not_participant"
    PROPOSAL_CLOSED = "proposal_closed"


@dataclass(frozen=True, slots=True)
class Limits:
    """Enforced limits (docs/protocol.md §5). All configurable on the bridge."""

    max_frame_bytes: int = 1_048_576
    """A larger frame is answered with ``frame_too_large``."""
    hard_frame_bytes: int = 8_388_608
    """A frame above this is abuse: the connection is closed (1009)."""
    max_body_bytes: int = 262_144
    max_context_bytes: int = 524_288
    window_messages: int = 256
    """Deliveries in flight (sent, not yet acked) per connection."""
    window_bytes: int = 1_048_576
    """Bytes of deliveries in flight per connection (at least one message always fits)."""
    max_errors: int = 50
    """Error frames per connection within ``error_window_s`` before it is closed (1008)."""
    error_window_s: float = 60.0
    history_max: int = 500
    search_max: int = 200
    rate_per_s: float = 200.0
    """Frames per second one connection may send (token bucket, §5.1); 0: no limit."""
    rate_burst: int = 2000
    """Frames a connection may send at once above its rate."""
    token_rate_per_s: float = 400.0
    """Frames per second all connections of one auth token may send together; 0: no limit."""
    token_rate_burst: int = 4000
    max_conns_per_token: int = 64
    """Live connections using one auth token (0: no limit)."""
    max_conns_per_ip: int = 256
    """Live connections from one non-loopback IP address (0: no limit)."""

    def as_dict(self) -> dict[str, int | float]:
        return {
            "max_frame_bytes": self.max_frame_bytes,
            "max_body_bytes": self.max_body_bytes,
            "max_context_bytes": self.max_context_bytes,
            "window_messages": self.window_messages,
            "window_bytes": self.window_bytes,
            "rate_per_s": self.rate_per_s,
            "rate_burst": self.rate_burst,
        }


class _Frame(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True, strict=True)


# --- client -> bridge -----------------------------------------------------------------


class ClientInfo(_Frame):
    kind: str = Field(default="unknown", max_length=64)
    version: str = Field(default="", max_length=64)


class Hello(_Frame):
    """Registers the connection as ``Name (Project)`` (§2.1)."""

    type: Literal["hello"] = "hello"
    rid: Rid
    protocol: int
    name: str
    project: str
    token: str | None = Field(default=None, max_length=512, repr=False)
    """The auth token (docs/security.md); never shown in reprs or logs."""
    session: str | None = Field(default=None, max_length=64)
    address: str | None = Field(default=None, max_length=200)
    resume: int | None = Field(default=None, ge=0, le=MAX_INT)
    presence: bool = False
    """Subscribe to ``presence`` events (join/leave of other peers)."""
    attach: bool | None = None
    """Act for the live address of this ``session`` beside its connection (§2.2)."""
    client: ClientInfo | None = None

    @field_validator("name")
    @classmethod
    def _name_ok(cls, value: str) -> str:
        value = value.strip()
        if not _NAME_RE.match(value):
            raise ValueError("name must be 1-64 characters without ( ) # * or control characters")
        return value

    @field_validator("project")
    @classmethod
    def _project_ok(cls, value: str) -> str:
        value = value.strip()
        if not _PROJECT_RE.match(value):
            raise ValueError("project must be 1-128 characters without ( ) or control characters")
        return value


class Send(_Frame):
    """Sends ``body`` to an address, a bare name, a prefix, or ``*`` (§3.1)."""

    type: Literal["send"] = "send"
    rid: Rid
    cid: str = Field(min_length=1, max_length=128)
    to: str = Field(min_length=1, max_length=200)
    body: str
    context: dict[str, Any] | None = None
    thread: str | None = Field(default=None, max_length=128)
    reply_to: str | None = Field(default=None, max_length=128)

    @field_validator("context")
    @classmethod
    def _context_ok(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        if value is not None and not _depth_ok(value, MAX_CONTEXT_DEPTH):
            raise ValueError(f"context must nest at most {MAX_CONTEXT_DEPTH} levels")
        return value


class Ack(_Frame):
    """Cumulative ack: every delivery up to ``seq`` reached the agent (§3.3)."""

    type: Literal["ack"] = "ack"
    seq: int = Field(ge=0, le=MAX_INT)
    rid: Rid | None = None


class Peers(_Frame):
    type: Literal["peers"] = "peers"
    rid: Rid
    include_offline: bool = True


class History(_Frame):
    type: Literal["history"] = "history"
    rid: Rid
    peer: str | None = Field(default=None, max_length=200)
    limit: int = Field(default=50, ge=1, le=500)
    before: int | None = Field(default=None, ge=0, le=MAX_INT)


class Search(_Frame):
    type: Literal["search"] = "search"
    rid: Rid
    query: str = Field(min_length=1, max_length=500)
    limit: int = Field(default=20, ge=1, le=200)


class Status(_Frame):
    type: Literal["status"] = "status"
    rid: Rid


class Ping(_Frame):
    type: Literal["ping"] = "ping"
    rid: Rid | None = None


class AdminStatus(_Frame):
    """Admin tokens only: every peer's cursors and connections (§3.5)."""

    type: Literal["admin_status"] = "admin_status"
    rid: Rid


class AdminHistory(_Frame):
    """Admin tokens only: the history ``viewer`` would see (with ``peer``: one conversation)."""

    type: Literal["admin_history"] = "admin_history"
    rid: Rid
    viewer: str = Field(min_length=1, max_length=200)
    peer: str | None = Field(default=None, max_length=200)
    limit: int = Field(default=50, ge=1, le=500)
    before: int | None = Field(default=None, ge=0, le=MAX_INT)


# --- consensus (§8): proposals, votes, verdicts --------------------------------------


class Propose(_Frame):
    """Asks ``participants`` to vote on ``question`` under ``rule`` (§8.1)."""

    type: Literal["propose"] = "propose"
    rid: Rid
    cid: str | None = Field(default=None, min_length=1, max_length=128)
    """A resend with the same ``cid`` gets the same proposal back, not a second one."""
    question: str = Field(min_length=1, max_length=8000)
    context: dict[str, Any] | None = None
    participants: list[Annotated[str, Field(min_length=1, max_length=200)]] = Field(
        min_length=1, max_length=100
    )
    rule: Literal["majority", "unanimous", "quorum"] = "majority"
    quorum: int | None = Field(default=None, ge=1, le=100)
    judge: str | None = Field(default=None, min_length=1, max_length=200)
    deadline_s: float | None = Field(default=None, gt=0, le=90 * 86400.0)
    """Seconds from now until the vote closes."""
    tags: bool = False
    """Count ``[LGTM]``/``[CONTINUE]`` replies in the proposal's thread as votes."""

    @field_validator("context")
    @classmethod
    def _context_ok(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        if value is not None and not _depth_ok(value, MAX_CONTEXT_DEPTH):
            raise ValueError(f"context must nest at most {MAX_CONTEXT_DEPTH} levels")
        return value


class Vote(_Frame):
    """A participant's vote, or the judge's ruling after an escalation (§8.2)."""

    type: Literal["vote"] = "vote"
    rid: Rid
    proposal: str = Field(min_length=1, max_length=128)
    choice: Literal["approve", "reject", "abstain"]
    reason: str = Field(default="", max_length=8000)


class ProposalStatus(_Frame):
    type: Literal["proposal_status"] = "proposal_status"
    rid: Rid
    proposal: str = Field(min_length=1, max_length=128)


class Proposals(_Frame):
    """Proposals the asker authored, takes part in or judges, newest first (§8.3)."""

    type: Literal["proposals"] = "proposals"
    rid: Rid
    status: Literal["open", "escalated", "decided", "expired", "withdrawn"] | None = None
    limit: int = Field(default=50, ge=1, le=500)


class Withdraw(_Frame):
    type: Literal["withdraw"] = "withdraw"
    rid: Rid
    proposal: str = Field(min_length=1, max_length=128)
    reason: str = Field(default="", max_length=8000)


ClientFrame = (
    Hello
    | Send
    | Ack
    | Peers
    | History
    | Search
    | Status
    | Ping
    | AdminStatus
    | AdminHistory
    | Propose
    | Vote
    | ProposalStatus
    | Proposals
    | Withdraw
)

CLIENT_FRAMES: dict[str, type[_Frame]] = {
    "hello": Hello,
    "send": Send,
    "ack": Ack,
    "peers": Peers,
    "history": History,
    "search": Search,
    "status": Status,
    "ping": Ping,
    "admin_status": AdminStatus,
    "admin_history": AdminHistory,
    "propose": Propose,
    "vote": Vote,
    "proposal_status": ProposalStatus,
    "proposals": Proposals,
    "withdraw": Withdraw,
}


# --- bridge -> client -----------------------------------------------------------------


class MessageView(_Frame):
    """A stored message as a client sees it (history, search)."""

    id: str
    from_: str = Field(alias="from")
    to: str
    body: str
    context: dict[str, Any] | None = None
    thread: str | None = None
    reply_to: str | None = None
    ts: float


class PeerView(_Frame):
    address: str
    name: str
    project: str
    online: bool
    last_seen: float


class Welcome(_Frame):
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


class Accepted(_Frame):
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


class Deliver(_Frame):
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


class Acked(_Frame):
    """The reply to an ``ack`` with a ``rid``; without one, another connection of the same
    address acked through ``seq`` (§2.2, §3.3)."""

    type: Literal["acked"] = "acked"
    rid: Rid | None = None
    seq: int


class PeerList(_Frame):
    type: Literal["peer_list"] = "peer_list"
    rid: Rid
    peers: list[PeerView]


class HistoryPage(_Frame):
    type: Literal["history_page"] = "history_page"
    rid: Rid
    messages: list[MessageView]
    before: int | None = None
    """Cursor for the next older page; absent when there is none."""


class SearchResults(_Frame):
    type: Literal["search_results"] = "search_results"
    rid: Rid
    messages: list[MessageView]


class StatusReport(_Frame):
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


class PeerDetail(_Frame):
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


class BridgeReport(_Frame):
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


class Presence(_Frame):
    type: Literal["presence"] = "presence"
    event: Literal["join", "leave"]
    peer: PeerView


class Pong(_Frame):
    type: Literal["pong"] = "pong"
    rid: Rid | None = None


class Error(_Frame):
    type: Literal["error"] = "error"
    rid: Rid | None = None
    code: str
    message: str
    hint: str = ""
    candidates: list[str] | None = None


class ProposalInfo(_Frame):
    """One proposal with its ballots and tally: the reply to every consensus request
    but ``proposals`` (§8). Sent after the change it reports is durably stored."""

    type: Literal["proposal_info"] = "proposal_info"
    rid: Rid
    proposal: dict[str, Any]


class ProposalList(_Frame):
    type: Literal["proposal_list"] = "proposal_list"
    rid: Rid
    proposals: list[dict[str, Any]]


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
    | Pong
    | Error
    | ProposalInfo
    | ProposalList
)

SERVER_FRAMES: dict[str, type[_Frame]] = {
    "welcome": Welcome,
    "accepted": Accepted,
    "deliver": Deliver,
    "acked": Acked,
    "peer_list": PeerList,
    "history_page": HistoryPage,
    "search_results": SearchResults,
    "status_report": StatusReport,
    "bridge_report": BridgeReport,
    "presence": Presence,
    "pong": Pong,
    "error": Error,
    "proposal_info": ProposalInfo,
    "proposal_list": ProposalList,
}


# --- encode / decode ------------------------------------------------------------------


def encode(frame: _Frame) -> str:
    """Serialises a frame to its JSON text (aliases applied, absent optionals left out)."""
    return frame.model_dump_json(by_alias=True, exclude_none=True)


def _rid_of(obj: dict[str, Any]) -> str | int | None:
    rid = obj.get("rid")
    if isinstance(rid, bool):
        return None
    if isinstance(rid, int) or (isinstance(rid, str) and 0 < len(rid) <= 64):
        return rid
    return None


def _describe(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors(include_url=False)[:5]:
        where = ".".join(str(p) for p in err["loc"]) or "frame"
        parts.append(f"{where}: {err['msg']}")
    return "; ".join(parts)


def _maybe_surrogate(data: str) -> bool:
    """Cheap pre-check: could ``data`` hold a lone surrogate, escaped or raw?

    A lone surrogate (``\\ud800`` in JSON, or raw in a str) cannot be encoded as UTF-8:
    it would break every later encode, so frames holding one are refused (§6).
    """
    if "\\ud" in data or "\\uD" in data:
        return True
    if data.isascii():
        return False
    try:
        data.encode()
    except UnicodeEncodeError:
        return True
    return False


def _unicode_ok(obj: Any) -> bool:
    """Whether every string in a decoded frame can be encoded as UTF-8."""
    try:
        json.dumps(obj, ensure_ascii=False).encode()
    except (ValueError, RecursionError):  # UnicodeEncodeError is a ValueError
        return False
    return True


def _decode(data: str | bytes, table: dict[str, type[_Frame]], max_bytes: int | None) -> _Frame:
    if isinstance(data, bytes):
        # Binary frames are not part of protocol v1 (§1), but a UTF-8 payload is harmless.
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise FrameError(
                ErrorCode.BAD_JSON, "frame is not UTF-8 text", "send JSON text frames"
            ) from exc
    if max_bytes is not None and len(data) * 4 > max_bytes:
        # len() counts characters, and one character is 1 to 4 bytes of UTF-8.
        size = len(data.encode(errors="surrogatepass"))
        if size > max_bytes:
            raise FrameError(
                ErrorCode.FRAME_TOO_LARGE,
                f"frame of {size} bytes exceeds the limit of {max_bytes}",
                "split the content or share a smaller excerpt",
            )
    try:
        obj = json.loads(data)
    except (ValueError, RecursionError) as exc:
        raise FrameError(
            ErrorCode.BAD_JSON, f"frame is not valid JSON ({exc})", "send one JSON object"
        ) from exc
    if not isinstance(obj, dict):
        raise FrameError(
            ErrorCode.BAD_FRAME,
            f"frame is a JSON {type(obj).__name__}, not an object",
            'send a JSON object with a "type" field',
        )
    rid = _rid_of(obj)
    if _maybe_surrogate(data) and not _unicode_ok(obj):
        raise FrameError(
            ErrorCode.BAD_JSON,
            "frame holds a lone surrogate (e.g. \\ud800), which is not valid Unicode",
            "send valid UTF-8 text; escape characters beyond U+FFFF as surrogate pairs",
            rid if _unicode_ok(rid) else None,
        )
    kind = obj.get("type")
    model = table.get(kind) if isinstance(kind, str) else None
    if model is None:
        known = ", ".join(sorted(table))
        raise FrameError(
            ErrorCode.UNKNOWN_TYPE,
            f"unknown frame type {kind!r}",
            f"use one of: {known}",
            rid,
        )
    try:
        return model.model_validate(obj)
    except ValidationError as exc:
        raise FrameError(
            ErrorCode.BAD_FRAME,
            f"invalid {kind} frame: {_describe(exc)}",
            "fix the fields named above (docs/protocol.md lists every field)",
            rid,
        ) from exc
    except (RecursionError, ValueError) as exc:
        raise FrameError(
            ErrorCode.BAD_FRAME, f"invalid {kind} frame", "send a flatter frame", rid
        ) from exc


def decode_client(data: str | bytes, max_bytes: int | None = None) -> ClientFrame:
    """Decodes a client frame; raises :class:`FrameError` with a code and a hint."""
    return _decode(data, CLIENT_FRAMES, max_bytes)  # type: ignore[return-value]


def decode_server(data: str | bytes) -> ServerFrame:
    """Decodes a bridge frame; raises :class:`FrameError` with a code and a hint."""
    return _decode(data, SERVER_FRAMES, None)  # type: ignore[return-value]
