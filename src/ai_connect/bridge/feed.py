"""The observer feed (docs/protocol.md §9): what observers are told, and the marks behind it.

A part of :class:`~ai_connect.bridge.core.Router`, pure like it. An observer is a
connection whose ``hello`` said ``mode: "observe"`` (``ai-connect watch``, the dashboard):
it never becomes a peer. It gets a :class:`~ai_connect.protocol.FeedSnapshot` after its
``welcome``, then one :class:`~ai_connect.protocol.FeedEvent` per thing the bridge does:
a message stored, a copy of it delivered to a connection or shown (acked), a peer
joining or leaving, a proposal changing. Events follow the commit of what they report,
as ``accepted`` does.

:class:`Unshown` remembers, per recipient, the mailbox entries delivered and not yet
acked (message id, sender, when, to which connection). An ack names only a cumulative
``seq``; this is how the router knows which messages it covered, for the feed's
``shown`` events and the senders' receipts (§3.7). It holds no more than the entries in
flight, and is rebuilt by the redeliveries after a restart.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Literal

import msgspec

from ai_connect.bridge.events import Action, Send
from ai_connect.bridge.state import Peer, Registry
from ai_connect.bridge.store.base import StoredMessage
from ai_connect.protocol import (
    FeedDelivery,
    FeedEvent,
    FeedMessage,
    FeedPeer,
    FeedSnapshot,
    Rid,
    ServerFrame,
)

__all__ = ["PREVIEW_CHARS", "Feed", "Mark", "Unshown", "context_summary", "preview"]

PREVIEW_CHARS = 280
"""How much of a message's body the feed carries (``FeedMessage.preview``)."""

_SUMMARY_KEYS = ("kind", "file", "lines", "total_lines", "repo", "branch", "commit", "dirty")
"""The scalar context fields a summary keeps (code context, code_context.py)."""

Change = Literal["proposed", "voted", "escalated", "decided", "expired", "withdrawn"]


class Mark(msgspec.Struct, frozen=True):
    """One delivered, not yet shown mailbox entry (a Struct, as
    :class:`~ai_connect.bridge.store.base.StoredMessage`: one is made per delivery)."""

    id: str
    sender: str
    delivered: float
    """When it was first pushed to a connection of the recipient."""
    via: str
    """The kind of that connection (``mcp``, ``hook``, ``cli``…)."""
    conn: int
    receipt: bool = False
    """Its sender wants a ``receipt`` when it is shown (§3.7)."""


class Unshown:
    """Recipient -> seq -> :class:`Mark`, for the entries delivered and not acked.

    Deliveries to a recipient go out in seq order, so each recipient's marks are kept in
    seq order and an ack takes them from the front (O(entries it covers)); a seq that
    comes out of order (a forgotten address's mailbox starting anew) re-sorts them once.
    """

    def __init__(self) -> None:
        self._by_recipient: dict[str, dict[int, Mark]] = {}
        self._unsorted: set[str] = set()

    def delivered(self, recipient: str, seq: int, mark: Mark) -> bool:
        """Remembers a delivery; ``False`` if the entry was delivered before (a
        redelivery keeps its first mark)."""
        marks = self._by_recipient.get(recipient)
        if marks is None:
            self._by_recipient[recipient] = {seq: mark}
            return True
        earlier = marks.get(seq)
        if earlier is not None and earlier.id == mark.id:
            return False
        if earlier is None and seq < next(reversed(marks)):
            self._unsorted.add(recipient)
        marks[seq] = mark  # new, or the seq of a forgotten address's old mailbox
        return True

    def shown(self, recipient: str, upto: int) -> list[tuple[int, Mark]]:
        """Takes the entries up to ``upto`` out (an ack covered them), in seq order."""
        marks = self._by_recipient.get(recipient)
        if not marks:
            return []
        if recipient in self._unsorted:
            self._unsorted.discard(recipient)
            marks = self._by_recipient[recipient] = dict(sorted(marks.items()))
        taken: list[tuple[int, Mark]] = []
        for seq, mark in marks.items():
            if seq > upto:
                break
            taken.append((seq, mark))
        for seq, _ in taken:
            del marks[seq]
        if not marks:
            del self._by_recipient[recipient]
        return taken

    def get(self, recipient: str, seq: int) -> Mark | None:
        return self._by_recipient.get(recipient, {}).get(seq)

    def forget(self, recipient: str) -> None:
        self._by_recipient.pop(recipient, None)
        self._unsorted.discard(recipient)

    def items(self) -> Iterable[tuple[str, int, Mark]]:
        for recipient, marks in sorted(self._by_recipient.items()):
            for seq in sorted(marks):
                yield recipient, seq, marks[seq]


def preview(body: str) -> str:
    """The first :data:`PREVIEW_CHARS` characters of a body (raw: viewers clean it)."""
    return body if len(body) <= PREVIEW_CHARS else body[:PREVIEW_CHARS] + "…"


def context_summary(context: dict[str, Any] | None) -> dict[str, Any] | None:
    """What a viewer shows of a context: its file, lines, repo… and its size, never its
    content (docs/protocol.md §9.2)."""
    if not context:
        return None
    summary: dict[str, Any] = {
        k: context[k]
        for k in _SUMMARY_KEYS
        if isinstance(context.get(k), str | int | float | bool) and k in context
    }
    content = context.get("content")
    if isinstance(content, str):
        summary["bytes"] = len(content.encode())
    others = sorted(k for k in context if k not in _SUMMARY_KEYS and k != "content")
    if others:
        summary["keys"] = others[:20]
    return summary


class Feed:
    """The observer connections, and the frames each event becomes."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self.observers: set[int] = set()
        """Connection ids of the observers (hello ``mode: "observe"``)."""

    def __bool__(self) -> bool:
        """Whether anyone observes: callers skip building events otherwise (hot path)."""
        return bool(self.observers)

    def peer(self, peer: Peer, now: float) -> FeedPeer:
        online = peer.online  # here, or on another node (bridge/cluster.py)
        return FeedPeer(
            address=peer.address,
            name=peer.name,
            project=peer.project,
            online=online,
            last_seen=now if online else peer.last_seen,
            unread=peer.tip - peer.acked,
            tip=peer.tip,
            acked=peer.acked,
            connections=len(self.registry.conns_of(peer)),
            work=peer.work,
        )

    def snapshot(
        self,
        now: float,
        proposals: Iterable[dict[str, Any]],
        unshown: Unshown,
        rid: Rid | None = None,
    ) -> FeedSnapshot:
        """Peers with presence and unread mail, open proposals, unshown deliveries."""
        return FeedSnapshot(
            rid=rid,
            ts=now,
            peers=[self.peer(p, now) for p in self.registry.listed()],
            proposals=list(proposals),
            unshown=[_delivery(r, s, m, "delivered", m.via, m.conn, m.delivered)
                     for r, s, m in unshown.items()],
        )  # fmt: skip

    # --- events -----------------------------------------------------------------------

    def _emit(self, frame: ServerFrame) -> list[Action]:
        return [Send(conn, frame) for conn in sorted(self.observers)]

    def message(
        self,
        message: StoredMessage,
        recipients: Iterable[str],
        online: Iterable[str],
        paused: str | None,
    ) -> list[Action]:
        """A message was stored (``accepted``)."""
        if not self.observers:
            return []
        view = FeedMessage(
            id=message.id,
            from_=message.sender,
            to=message.to,
            recipients=sorted(recipients),
            online=sorted(online),
            thread=message.thread,
            reply_to=message.reply_to,
            ts=message.ts,
            preview=preview(message.body),
            size=len(message.body.encode()),
            context=context_summary(message.context),
            human=message.human,
            paused=paused,
        )
        return self._emit(FeedEvent(kind="message", ts=message.ts, message=view))

    def delivered(self, recipient: str, seq: int, mark: Mark) -> list[Action]:
        """A mailbox entry was pushed to a connection of its recipient."""
        if not self.observers:
            return []
        view = _delivery(recipient, seq, mark, "delivered", mark.via, mark.conn, mark.delivered)
        return self._emit(FeedEvent(kind="delivered", ts=mark.delivered, delivery=view))

    def shown(
        self,
        recipient: str,
        marks: Iterable[tuple[int, Mark]],
        path: str | None,
        conn: int | None,
        now: float,
    ) -> list[Action]:
        """An ack covered these entries: their recipient's agent was shown them."""
        out: list[Action] = []
        if not self.observers:
            return out
        for seq, mark in marks:
            view = _delivery(recipient, seq, mark, "shown", path, conn, now)
            out += self._emit(FeedEvent(kind="shown", ts=now, delivery=view))
        return out

    def presence(self, event: Literal["join", "leave"], peer: Peer, now: float) -> list[Action]:
        if not self.observers:
            return []
        return self._emit(FeedEvent(kind=event, ts=now, peer=self.peer(peer, now)))

    def work(self, peer: Peer, now: float) -> list[Action]:
        """A peer published a new work status (§11)."""
        if not self.observers:
            return []
        return self._emit(FeedEvent(kind="work", ts=now, peer=self.peer(peer, now)))

    def proposal(
        self, before: dict[str, Any] | None, after: dict[str, Any], now: float
    ) -> list[Action]:
        """A proposal record was stored; nothing if it did not change (a resend)."""
        if not self.observers or before == after:
            return []
        change = _change(before, after)
        return self._emit(FeedEvent(kind="proposal", ts=now, proposal=after, change=change))


def _delivery(
    recipient: str,
    seq: int,
    mark: Mark,
    state: Literal["delivered", "shown"],
    path: str | None,
    conn: int | None,
    ts: float,
) -> FeedDelivery:
    return FeedDelivery(
        id=mark.id,
        from_=mark.sender,
        recipient=recipient,
        seq=seq,
        state=state,
        path=path,
        conn=conn,
        ts=ts,
    )


def _change(before: dict[str, Any] | None, after: dict[str, Any]) -> Change:
    """What a stored proposal record says happened, compared with the one before it."""
    if before is None:
        return "proposed"
    status = after.get("status")
    if status != before.get("status") and status in _CHANGES:
        return _CHANGES[status]
    return "voted"


_CHANGES: dict[Any, Change] = {
    "escalated": "escalated",
    "decided": "decided",
    "expired": "expired",
    "withdrawn": "withdrawn",
}
