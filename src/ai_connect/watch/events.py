"""What ``ai-connect watch`` is told about the bridge: its own event types, pure data.

The watch does not read wire frames: :mod:`ai_connect.watch.feed` turns the bridge's
observer feed into these events, and everything after that (the model, the line
renderer, the terminal app) knows only them. Times are the bridge's (seconds since the
epoch); every string in them came from a peer and is untrusted until
:mod:`ai_connect.text.terminal` has cleaned it for display.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, Literal, Protocol

__all__ = [
    "DeliveryChanged",
    "DeliveryState",
    "LinkChanged",
    "MessageSeen",
    "PeerInfo",
    "PresenceChanged",
    "ProposalChanged",
    "Snapshot",
    "WatchEvent",
    "WatchSource",
    "WorkChanged",
]

DeliveryState = Literal["accepted", "delivered", "shown"]
"""A recipient's copy of a message: stored, pushed to one of its connections, acked (the
agent, or the person, was shown it)."""


@dataclass(frozen=True, slots=True)
class PeerInfo:
    """A peer with its presence and mailbox."""

    address: str
    online: bool
    last_seen: float
    unread: int = 0
    """Mailbox entries not shown to it yet."""
    work: str | None = None
    """Its work status as one line (:func:`ai_connect.text.work.work_line`), if any."""


@dataclass(frozen=True, slots=True)
class MessageSeen:
    """The bridge stored a message (``accepted``)."""

    ts: float
    id: str
    sender: str
    to: str
    """What the sender addressed: an address or ``*``."""
    recipients: tuple[str, ...]
    preview: str
    """The first characters of the body."""
    size: int = 0
    """The whole body's length in bytes (0: unknown)."""
    thread: str | None = None
    reply_to: str | None = None
    context: dict[str, Any] | None = None
    """A summary of the context (file, lines...), never its content."""
    human: bool = False
    """Sent by a person (``watch --as``), not by an agent."""
    paused: str | None = None
    """The loop brake paused its conversation: stored, but it wakes nobody."""
    online: tuple[str, ...] = ()
    """The recipients that had a live connection when it was stored."""
    past: bool = False
    """From the history (``--last``), stored before the watch's snapshot: the snapshot's
    unread counts include it already."""


@dataclass(frozen=True, slots=True)
class DeliveryChanged:
    """One recipient's copy of a message moved on (``delivered`` or ``shown``)."""

    ts: float
    id: str
    recipient: str
    state: Literal["delivered", "shown"]
    path: str | None = None
    """``shown``: what showed it (hook, tool, channel, cli); ``delivered``: the kind of
    connection it was pushed to."""
    sender: str | None = None
    past: bool = False
    """A state from the history (``--last``): the snapshot's unread counts include it."""


@dataclass(frozen=True, slots=True)
class PresenceChanged:
    """A peer joined (its first connection) or left (its last one closed)."""

    ts: float
    peer: PeerInfo
    joined: bool


@dataclass(frozen=True, slots=True)
class WorkChanged:
    """A peer published a new work status (docs/protocol.md §11): ``peer.work``."""

    ts: float
    peer: PeerInfo


@dataclass(frozen=True, slots=True)
class ProposalChanged:
    """A proposal was made, voted on, escalated, decided, expired or withdrawn.

    ``proposal`` is the bridge's view of it (``id``, ``author``, ``question``,
    ``participants``, ``status``, ``outcome``, ``ballots``, ``tally``...: docs/protocol.md
    §8)."""

    ts: float
    change: str
    proposal: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Where the watch starts from, and starts again after a reconnect."""

    ts: float
    peers: tuple[PeerInfo, ...] = ()
    proposals: tuple[dict[str, Any], ...] = ()
    """Open and escalated proposals."""
    unshown: tuple[DeliveryChanged, ...] = ()
    """Copies delivered to a connection and not shown yet."""
    bridge: str = ""
    """What the watch is connected to (a URL), for the header."""


@dataclass(frozen=True, slots=True)
class LinkChanged:
    """The watch's own link to the bridge went down or came back."""

    ts: float
    up: bool
    reason: str = ""
    """Down: why; up: what it is connected to."""


WatchEvent = (
    Snapshot
    | MessageSeen
    | DeliveryChanged
    | PresenceChanged
    | ProposalChanged
    | LinkChanged
    | WorkChanged
)


class WatchSource(Protocol):
    """Where the watch's events come from, and how it sends as a person.

    :class:`ai_connect.watch.feed.FeedSource` is the bridge's observer feed; tests give
    a queue."""

    def events(self) -> AsyncIterator[WatchEvent]:
        """The events, starting with a :class:`Snapshot` (and another after each
        reconnect), until the watch stops."""
        ...

    async def send(
        self,
        name: str,
        to: str,
        body: str,
        *,
        thread: str | None = None,
        reply_to: str | None = None,
    ) -> str:
        """Sends ``body`` to ``to`` as the person ``name``; returns the message id once
        the bridge stored it. Raises a BridgeError saying what went wrong."""
        ...
