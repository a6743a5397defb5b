"""The MCP tools' arguments and results as pydantic models: they validate what a model
sends and give every tool its input and output JSON Schema (docs/mcp.md).

Pure: no I/O. Structured results are built as plain dicts in the shapes declared here
(``Message.as_dict()`` for messages); the tests check every result against its schema.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "ContextOut",
    "HistoryOut",
    "MessageOut",
    "MessagesOut",
    "NoArgs",
    "PeerContextArgs",
    "PeerHistoryArgs",
    "PeerListArgs",
    "PeerOut",
    "PeerReadArgs",
    "PeerSearchArgs",
    "PeerSendArgs",
    "PeerStatusArgs",
    "PeerWaitArgs",
    "PeersOut",
    "SearchOut",
    "SendOut",
    "StatusOut",
    "ToolArgs",
    "ToolOut",
    "WaitOut",
    "WorkOut",
    "schema",
]

WAIT_DEFAULT_S = 600.0
WAIT_MAX_S = 3600.0


class ToolArgs(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class NoArgs(ToolArgs):
    pass


class PeerListArgs(ToolArgs):
    online_only: bool = Field(default=False, description="Only peers connected right now.")


_TO = Field(
    min_length=1,
    max_length=200,
    description="Full address 'Name (Project)', a bare name or unambiguous prefix, or '*' for "
    "every known peer.",
)
_LINES = Field(
    default=None,
    max_length=40,
    description="Line range of `file`, 1-based and inclusive: '10-40', '10', '120-'. "
    "Default: the whole file (size-capped).",
)
_BY_REFERENCE = Field(
    default=True,
    description="A peer whose checkout holds the same lines sees a verified reference "
    "instead of the content; false: always the content.",
)


class PeerSendArgs(ToolArgs):
    to: str = _TO
    message: str = Field(min_length=1, description="The text to send.")
    file: str | None = Field(
        default=None,
        description="Attach this file's content (absolute path, or relative to the server's "
        "working directory).",
    )
    lines: str | None = _LINES
    by_reference: bool = _BY_REFERENCE
    thread: str | None = Field(
        default=None, max_length=128, description="Thread name to group a conversation."
    )
    reply_to: str | None = Field(
        default=None,
        max_length=128,
        description="Id of the message this answers, as peer_read/peer_history show it "
        "(a unique end or start of it works too); checked against the messages you can see.",
    )
    receipt: bool = Field(
        default=False,
        description="Be told when each recipient's agent was shown it: a [receipt] line "
        "follows your next ai-connect tool result. peer_status with message_id shows it "
        "any time.",
    )


class PeerStatusArgs(ToolArgs):
    message_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=128,
        description="A message you sent (the id peer_send returned): its state per "
        "recipient -- waiting, delivered, or shown to the agent (when, and by which path).",
    )


class PeerReadArgs(ToolArgs):
    from_: str | None = Field(
        default=None,
        alias="from",
        description="Only messages from this peer (address, name or prefix).",
    )
    limit: int = Field(default=50, ge=1, le=500, description="At most this many messages.")


class PeerWaitArgs(ToolArgs):
    timeout_s: float = Field(
        default=WAIT_DEFAULT_S,
        gt=0,
        le=WAIT_MAX_S,
        description=f"Give up after this many seconds (default {WAIT_DEFAULT_S:g}, "
        f"at most {WAIT_MAX_S:g}).",
    )
    from_: str | None = Field(
        default=None,
        alias="from",
        description="Only wake for messages from this peer (address, name or prefix).",
    )


class PeerHistoryArgs(ToolArgs):
    peer: str | None = Field(
        default=None,
        max_length=200,
        description="The peer whose conversation with you to show (address, name or prefix). "
        "Default: everything you sent or received.",
    )
    limit: int = Field(default=20, ge=1, le=500, description="Messages per page.")
    before: int | None = Field(
        default=None, ge=0, description="Cursor from a previous call: show older messages."
    )


class PeerSearchArgs(ToolArgs):
    query: str = Field(min_length=1, max_length=500, description="Words to look for.")
    limit: int = Field(default=20, ge=1, le=200, description="At most this many results.")
    before: int | None = Field(
        default=None, ge=0, description="Cursor from a previous call: show older matches."
    )


class PeerContextArgs(ToolArgs):
    file: str = Field(
        min_length=1,
        description="The file to share: absolute, or relative to the server's working directory.",
    )
    lines: str | None = _LINES
    by_reference: bool = _BY_REFERENCE
    message: str | None = Field(default=None, description="What you want the peers to do with it.")
    to: str = Field(
        default="*",
        min_length=1,
        max_length=200,
        description="Who gets it: address, name, prefix, or '*' (default) for every known peer.",
    )


# --- results ---------------------------------------------------------------------------


class ToolOut(BaseModel):
    model_config = ConfigDict(populate_by_name=True)


class MessageOut(ToolOut):
    """A message as ``Message.as_dict()`` has it (``seq`` only for delivered ones)."""

    id: str
    seq: int | None = None
    from_: str = Field(alias="from")
    to: str
    content: str
    context: dict[str, Any] | None
    thread: str | None
    reply_to: str | None
    timestamp: float
    local: dict[str, Any] | None = Field(
        default=None,
        description="Your checkout's copy of the context's reference: state (identical, "
        "lines, moved: verified, the content is left out; differs, missing, not_here, "
        "refused), path, lines, reasons.",
    )


class MessagesOut(ToolOut):
    messages: list[MessageOut]
    more_unread: int = Field(description="Unread messages left for a later call.")
    bridge_connected: bool


class WaitOut(MessagesOut):
    timed_out: bool
    waited_s: float


class HistoryOut(ToolOut):
    messages: list[MessageOut]
    before: int | None = Field(description="Pass as `before` to see older messages.")


class SearchOut(ToolOut):
    messages: list[MessageOut]
    before: int | None = Field(default=None, description="Pass as `before` to see older matches.")


class WorkOut(ToolOut):
    """A peer's work status, published by its hooks (docs/protocol.md §11)."""

    repo: str | None = None
    branch: str | None = None
    head: str | None = None
    dirty: int = 0
    files: list[str] = Field(default_factory=list)
    activity: str
    task: str | None = None
    ts: float


class PeerOut(ToolOut):
    address: str
    name: str
    project: str
    online: bool
    last_seen: float
    work: WorkOut | None = None


class PeersOut(ToolOut):
    you: str | None
    peers: list[PeerOut]


class SendOut(ToolOut):
    state: Literal["accepted", "queued"] = Field(
        description="accepted: stored by the bridge; queued: kept locally until the bridge "
        "is reachable again."
    )
    kept: str | None = Field(
        default=None,
        description="queued: the file that keeps the message until the bridge stores it "
        "(it survives a restart of this server); null: accepted, or held in memory only.",
    )
    id: str | None
    cid: str
    to: str | None
    recipients: list[str]
    online: list[str]
    offline: list[str]
    duplicate: bool
    paused: str | None = Field(
        default=None,
        description="Set when the loop brake paused this conversation: the message is "
        "stored, but wakes nobody until a person speaks; say so and end your turn.",
    )


class ContextOut(SendOut):
    file: str
    lines: str
    truncated: bool
    by_reference: bool = Field(
        default=False, description="The message also carries a reference to the lines."
    )
    sha256: str
    repo: str | None
    branch: str | None
    commit: str | None
    dirty: bool | None


class StatusOut(ToolOut):
    address: str | None
    name: str
    project: str
    bridge: str
    state: Literal["connecting", "connected", "reconnecting", "closed"]
    since: float
    unread: int
    last_error: str | None
    identity: str = Field(description="Where this identity comes from: server or session.")
    server_version: str | None
    ai_connect_version: str
    mcp_version: str
    bridge_unread: int | None = None
    peers_online: int | None = None
    peers_known: int | None = None
    message: dict[str, Any] | None = Field(
        default=None, description="With message_id: that message's receipts per recipient."
    )
    queued: int = Field(default=0, description="Sends not yet stored by the bridge.")
    kept_in: str | None = Field(
        default=None,
        description="The file that keeps queued sends (and the ids shown) across restarts "
        "of this server; null: memory only.",
    )


def schema(model: type[BaseModel]) -> dict[str, Any]:
    """The JSON Schema of a model, with aliases (``from``) as property names."""
    return model.model_json_schema(by_alias=True)
