"""Receipts (docs/protocol.md §3.7): where a message stands for each of its recipients.

A part of :class:`~ai_connect.bridge.core.Router`, pure like it. A ``receipts`` request
becomes a :class:`~ai_connect.bridge.events.QueryReceipts` read of the store (the marks
that are committed); the answer comes back as
:class:`~ai_connect.bridge.events.ReceiptsLoaded` and is completed here with what the
router knows and the store may not yet: deliveries whose marks ride in the next commit
(:class:`~ai_connect.bridge.feed.Unshown`) and acks not committed yet (the peers'
cursors). The notices a sender gets when its message was shown are sent by
:meth:`~ai_connect.bridge.delivery.Delivery.shown`.
"""

from __future__ import annotations

from typing import Literal

from ai_connect.bridge.events import Action, QueryReceipts, ReceiptsLoaded, Send
from ai_connect.bridge.feed import Unshown
from ai_connect.bridge.state import Conn, Registry
from ai_connect.bridge.store.base import RecipientMarks
from ai_connect.protocol import Error, ErrorCode, ReceiptReport, Receipts, RecipientState

__all__ = ["ReceiptDesk"]


class ReceiptDesk:
    """Answers ``receipts`` requests."""

    def __init__(self, registry: Registry, unshown: Unshown) -> None:
        self.registry = registry
        self.unshown = unshown

    def on_request(self, conn: Conn, frame: Receipts) -> list[Action]:
        return [QueryReceipts(conn.id, frame.rid, frame.id)]

    def on_loaded(self, event: ReceiptsLoaded) -> list[Action]:
        conn = self.registry.conns.get(event.conn)
        if conn is None:
            return []
        if event.error is not None:
            error = Error(
                rid=event.rid,
                code=ErrorCode.INTERNAL,
                message=f"the bridge could not read the receipts: {event.error}",
                hint="ask again later",
            )
            return [Send(conn.id, error)]
        found = event.receipts
        # Only its sender -- or an operator (admin, observer) -- learns a message exists.
        if found is None or not (conn.admin or found.message.sender == conn.address):
            error = Error(
                rid=event.rid,
                code=ErrorCode.UNKNOWN_MESSAGE,
                message=f"no message {event.message_id!r} sent by {conn.address} is stored",
                hint="use the id that `accepted` gave (ai-connect send prints it); messages "
                "of others are shown to admin tokens only",
            )
            return [Send(conn.id, error)]
        m = found.message
        report = ReceiptReport(
            rid=event.rid,
            id=m.id,
            from_=m.sender,
            to=m.to,
            ts=m.ts,
            thread=m.thread,
            recipients=[self._state(m.id, r) for r in found.recipients],
        )
        return [Send(conn.id, report)]

    def _state(self, message_id: str, r: RecipientMarks) -> RecipientState:
        """The stored marks, completed with the router's: acks and deliveries not
        committed yet."""
        peer = self.registry.peers.get(r.recipient)
        mark = self.unshown.get(r.recipient, r.seq)
        if mark is not None and mark.id != message_id:
            mark = None
        delivered = r.delivered
        if delivered is None and mark is not None:
            delivered = mark.delivered
        state: Literal["waiting", "delivered", "shown"]
        if r.acked or (peer is not None and r.seq <= peer.acked):
            state = "shown"
        elif delivered is not None:
            state = "delivered"
        else:
            state = "waiting"
        return RecipientState(
            recipient=r.recipient,
            state=state,
            seq=r.seq,
            delivered=delivered if delivered is not None else r.shown,
            shown=r.shown,
            path=r.path,
            online=peer is not None and peer.online,  # here, or on another node
        )
