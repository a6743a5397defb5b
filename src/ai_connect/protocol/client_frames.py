"""The frames a client sends to the bridge (docs/protocol.md §2, §3, §8)."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import Field, field_validator

from ai_connect.protocol.frame import Context, Frame, Rid, frame_table
from ai_connect.protocol.lease_frames import Claim, Claims, LeaseCheck, Release
from ai_connect.protocol.limits import MAX_INT

__all__ = [
    "CLIENT_FRAMES",
    "Ack",
    "AckPath",
    "AdminBrakes",
    "AdminForget",
    "AdminHistory",
    "AdminResume",
    "AdminSearch",
    "AdminStatus",
    "ClientFrame",
    "ClientInfo",
    "FeedSync",
    "Forget",
    "Hello",
    "History",
    "Human",
    "Peers",
    "Ping",
    "ProposalStatus",
    "Proposals",
    "Propose",
    "Receipts",
    "Search",
    "Send",
    "Status",
    "Vote",
    "Withdraw",
]

_NAME_RE = re.compile(r"^[^()#*\x00-\x1f\x7f]{1,64}$")
_PROJECT_RE = re.compile(r"^[^()\x00-\x1f\x7f]{1,128}$")


class ClientInfo(Frame):
    kind: str = Field(default="unknown", max_length=64)
    version: str = Field(default="", max_length=64)


class Hello(Frame):
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
    receipts: bool | None = None
    """``true``: every ``send`` of this connection asks for receipts, as ``send.receipt`` (§3.7)."""
    attach: bool | None = None
    """Act for the live address of this ``session`` beside its connection (§2.2)."""
    mode: Literal["peer", "attach", "query", "observe"] | None = None
    """``peer`` (the default) owns its address; ``attach`` is ``attach: true``; ``query``
    only asks (status, peers, history, search…): no peer record, no mail, no presence,
    no send (§2.4); ``observe`` is a query connection that also gets the bridge's event
    feed and may send as a human (§9)."""
    client: ClientInfo | None = None

    @property
    def session_mode(self) -> str:
        """The mode this hello asks for: ``mode``, else ``attach``, else ``peer``."""
        return self.mode or ("attach" if self.attach else "peer")

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


class Send(Frame):
    """Sends ``body`` to an address, a bare name, a prefix, or ``*`` (§3.1)."""

    type: Literal["send"] = "send"
    rid: Rid
    cid: str = Field(min_length=1, max_length=128)
    to: str = Field(min_length=1, max_length=200)
    body: str
    context: Context = None
    thread: str | None = Field(default=None, max_length=128)
    reply_to: str | None = Field(default=None, max_length=128)
    as_: str | None = Field(default=None, alias="as")
    """Observer connections only (§9.3): send as this person, a human, not an agent."""
    receipt: bool | None = None
    """``true``: tell the sender (a ``receipt`` frame) when each recipient was shown it
    (§3.7)."""

    @field_validator("as_")
    @classmethod
    def _as_ok(cls, value: str | None) -> str | None:
        if value is None:
            return value
        value = value.strip()
        if not _NAME_RE.match(value):
            raise ValueError("as must be 1-64 characters without ( ) # * or control characters")
        return value


AckPath = Literal["hook", "tool", "channel", "cli"]
"""What showed the messages to the agent (or the person): a client hook, an MCP tool,
the Claude Code channel, the command line (§3.3)."""


class Ack(Frame):
    """Cumulative ack: every delivery up to ``seq`` reached the agent (§3.3)."""

    type: Literal["ack"] = "ack"
    seq: int = Field(ge=0, le=MAX_INT)
    rid: Rid | None = None
    path: AckPath | None = None
    """Which surface showed them (receipts, §3.7)."""


class Peers(Frame):
    type: Literal["peers"] = "peers"
    rid: Rid
    include_offline: bool = True


class History(Frame):
    type: Literal["history"] = "history"
    rid: Rid
    peer: str | None = Field(default=None, max_length=200)
    limit: int = Field(default=50, ge=1, le=500)
    before: int | None = Field(default=None, ge=0, le=MAX_INT)


class Search(Frame):
    type: Literal["search"] = "search"
    rid: Rid
    query: str = Field(min_length=1, max_length=500)
    limit: int = Field(default=20, ge=1, le=200)
    before: int | None = Field(default=None, ge=0, le=MAX_INT)
    """Cursor from an earlier page (``search_results.before``)."""


class Status(Frame):
    type: Literal["status"] = "status"
    rid: Rid


class Receipts(Frame):
    """Where a message one sent stands, per recipient (§3.7); observers and admins may
    ask about any message."""

    type: Literal["receipts"] = "receipts"
    rid: Rid
    id: str = Field(min_length=1, max_length=128)


class FeedSync(Frame):
    """An observer asks for a fresh ``feed_snapshot`` (answered with its ``rid``): to
    start over after it fell behind (§9.1)."""

    type: Literal["feed_sync"] = "feed_sync"
    rid: Rid


class Ping(Frame):
    type: Literal["ping"] = "ping"
    rid: Rid | None = None


class AdminStatus(Frame):
    """Admin tokens only: every peer's cursors and connections (§3.5)."""

    type: Literal["admin_status"] = "admin_status"
    rid: Rid


class AdminHistory(Frame):
    """Admin tokens only: the history ``viewer`` would see (with ``peer``: one conversation)."""

    type: Literal["admin_history"] = "admin_history"
    rid: Rid
    viewer: str = Field(min_length=1, max_length=200)
    peer: str | None = Field(default=None, max_length=200)
    limit: int = Field(default=50, ge=1, le=500)
    before: int | None = Field(default=None, ge=0, le=MAX_INT)


class AdminSearch(Frame):
    """Admin tokens only: what ``search`` would find for ``viewer`` (the dashboard, §3.5)."""

    type: Literal["admin_search"] = "admin_search"
    rid: Rid
    viewer: str = Field(min_length=1, max_length=200)
    query: str = Field(min_length=1, max_length=500)
    limit: int = Field(default=20, ge=1, le=200)
    before: int | None = Field(default=None, ge=0, le=MAX_INT)


# --- the loop brake (§3.6) -------------------------------------------------------------


class Human(Frame):
    """A person spoke in this address's agent session: its paused conversations resume and
    its count of unattended exchanges starts anew (§3.6). Sent by the prompt hooks."""

    type: Literal["human"] = "human"
    rid: Rid


class AdminBrakes(Frame):
    """Admin tokens only: the paused conversations (§3.6)."""

    type: Literal["admin_brakes"] = "admin_brakes"
    rid: Rid


class AdminResume(Frame):
    """Admin tokens only: lift the pause of ``conversation`` (``None``: of all) (§3.6)."""

    type: Literal["admin_resume"] = "admin_resume"
    rid: Rid
    conversation: str | None = Field(default=None, min_length=1, max_length=400)


class AdminForget(Frame):
    """Admin tokens only (anyone without auth): forget ``peer`` -- its record and mailbox;
    its live connections are closed (§2.5)."""

    type: Literal["admin_forget"] = "admin_forget"
    rid: Rid
    peer: str = Field(min_length=1, max_length=200)


# --- consensus (§8): proposals, votes, verdicts --------------------------------------


class Propose(Frame):
    """Asks ``participants`` to vote on ``question`` under ``rule`` (§8.1)."""

    type: Literal["propose"] = "propose"
    rid: Rid
    cid: str | None = Field(default=None, min_length=1, max_length=128)
    """A resend with the same ``cid`` gets the same proposal back, not a second one."""
    question: str = Field(min_length=1, max_length=8000)
    context: Context = None
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


class Vote(Frame):
    """A participant's vote, or the judge's ruling after an escalation (§8.2)."""

    type: Literal["vote"] = "vote"
    rid: Rid
    proposal: str = Field(min_length=1, max_length=128)
    choice: Literal["approve", "reject", "abstain"]
    reason: str = Field(default="", max_length=8000)


class ProposalStatus(Frame):
    type: Literal["proposal_status"] = "proposal_status"
    rid: Rid
    proposal: str = Field(min_length=1, max_length=128)


class Proposals(Frame):
    """Proposals the asker authored, takes part in or judges, newest first (§8.3)."""

    type: Literal["proposals"] = "proposals"
    rid: Rid
    status: Literal["open", "escalated", "decided", "expired", "withdrawn"] | None = None
    limit: int = Field(default=50, ge=1, le=500)


class Withdraw(Frame):
    type: Literal["withdraw"] = "withdraw"
    rid: Rid
    proposal: str = Field(min_length=1, max_length=128)
    reason: str = Field(default="", max_length=8000)


class Forget(Frame):
    """Forget my address: its peer record and its mailbox (§2.5); then the bridge closes."""

    type: Literal["forget"] = "forget"
    rid: Rid


ClientFrame = (
    Hello
    | Send
    | Ack
    | Peers
    | History
    | Search
    | Status
    | Receipts
    | FeedSync
    | Ping
    | AdminStatus
    | AdminHistory
    | AdminSearch
    | Human
    | AdminBrakes
    | AdminResume
    | AdminForget
    | Propose
    | Vote
    | ProposalStatus
    | Proposals
    | Withdraw
    | Forget
    | Claim
    | Release
    | Claims
    | LeaseCheck
)

CLIENT_FRAMES = frame_table(ClientFrame)
