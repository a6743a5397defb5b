"""The client side of delivery: an inbox that drops duplicates and computes acks.

Pure bookkeeping, no I/O. The bridge delivers each mailbox entry at least once, in
sequence order; the inbox hands each message to the agent exactly once and tells the
client which cumulative ``ack`` it may send (docs/protocol.md §3.3).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ai_connect.protocol import Deliver

__all__ = ["Inbox", "Message"]


@dataclass(frozen=True, slots=True)
class Message:
    """A message delivered to this peer."""

    seq: int
    id: str
    sender: str
    to: str
    body: str
    context: dict[str, Any] | None
    thread: str | None
    reply_to: str | None
    ts: float
    paused: str | None = None
    """The loop brake paused its conversation: show it, but wake nobody for it (§3.6)."""
    human: bool = False
    """A person sent it (through ``ai-connect watch --as``, §9.3), not an agent."""

    @classmethod
    def from_frame(cls, frame: Deliver) -> Message:
        return cls(
            frame.seq,
            frame.id,
            frame.from_,
            frame.to,
            frame.body,
            frame.context,
            frame.thread,
            frame.reply_to,
            frame.ts,
            frame.paused,
            bool(frame.human),
        )

    def as_dict(self) -> dict[str, Any]:
        """The machine-readable form used by ``--json`` and the MCP tools."""
        data = {
            "id": self.id,
            "seq": self.seq,
            "from": self.sender,
            "to": self.to,
            "content": self.body,
            "context": self.context,
            "thread": self.thread,
            "reply_to": self.reply_to,
            "timestamp": self.ts,
        }
        if self.human:
            data["human"] = True
        return data


class Inbox:
    """Unhandled messages in arrival order, and the cursor of what is handled."""

    def __init__(self, acked: int = 0, remember: int = 10_000) -> None:
        self._unhandled: OrderedDict[str, Message] = OrderedDict()
        self._handled_ids: OrderedDict[str, None] = OrderedDict()
        self._remember = remember
        self._received = acked
        """Highest seq received (or handled before we started)."""
        self.acked = acked
        """Highest seq the bridge confirmed, or that we sent in an ack."""

    def __len__(self) -> int:
        return len(self._unhandled)

    @property
    def received(self) -> int:
        """Highest seq received so far."""
        return self._received

    def reset(self, acked: int) -> None:
        """A new connection: the bridge resumes after ``acked``."""
        self.acked = max(self.acked, acked)
        self._received = max(self._received, self.acked)

    def add(self, message: Message) -> bool:
        """Takes a delivery; ``False`` for a duplicate (already unhandled or handled)."""
        self._received = max(self._received, message.seq)
        if message.id in self._unhandled or message.id in self._handled_ids:
            return False
        if message.seq <= self.acked:
            return False
        self._unhandled[message.id] = message
        return True

    def unhandled(self, sender: str | None = None) -> list[Message]:
        items = list(self._unhandled.values())
        if sender is not None:
            items = [m for m in items if m.sender == sender]
        return items

    def known_ids(self) -> list[str]:
        """The ids of every message this inbox holds or has handled (newest handled last)."""
        return [*self._unhandled, *self._handled_ids]

    def remember(self, ids: Iterable[str]) -> list[Message]:
        """Ids handled before (by an earlier process of this surface): never shown again.
        Returns the unhandled messages that were among them (now handled)."""
        known = list(ids)
        repeats = [self._unhandled[i] for i in known if i in self._unhandled]
        for message_id in known:
            self._unhandled.pop(message_id, None)
            self._handled_ids[message_id] = None
        while len(self._handled_ids) > self._remember:
            self._handled_ids.popitem(last=False)
        return repeats

    def mark_handled(self, messages: Iterable[Message]) -> None:
        for message in messages:
            if self._unhandled.pop(message.id, None) is not None:
                self._handled_ids[message.id] = None
        while len(self._handled_ids) > self._remember:
            self._handled_ids.popitem(last=False)

    def acked_elsewhere(self, seq: int) -> list[Message]:
        """Another connection of this address acked through ``seq``: those messages
        reached the agent there, so they are handled here too. Returns them."""
        gone = [m for m in self._unhandled.values() if m.seq <= seq]
        self.mark_handled(gone)
        self.acked = max(self.acked, seq)
        self._received = max(self._received, seq)
        return gone

    def ack_target(self) -> int:
        """The cumulative ack we may send: everything before the oldest unhandled seq."""
        if self._unhandled:
            return min(m.seq for m in self._unhandled.values()) - 1
        return self._received
