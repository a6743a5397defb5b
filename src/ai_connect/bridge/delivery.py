"""Sending, commit replies, delivery and flow control (§3.1, §3.2, §3.3).

A part of :class:`~ai_connect.bridge.core.Router`: it reads and writes the peers and
connections of the :class:`~ai_connect.bridge.state.Registry` it is given, and raises
:class:`~ai_connect.bridge.refusal.Refusal` for a ``send`` or ``ack`` it will not take.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from ai_connect import identity
from ai_connect.bridge import views
from ai_connect.bridge.events import Action, Damaged, LoadPending, Origin, Persist, Send
from ai_connect.bridge.refusal import Refusal
from ai_connect.bridge.state import Conn, Peer, Registry, RouterConfig
from ai_connect.bridge.store.base import (
    AckOp,
    AppendOp,
    AppendResult,
    BuryOp,
    MailboxEntry,
    StoredMessage,
    message_bytes,
)
from ai_connect.protocol import Accepted, Ack, Acked, ErrorCode
from ai_connect.protocol import Send as SendFrame

__all__ = ["Delivery"]


class Delivery:
    """Accepts ``send`` and ``ack`` frames and keeps each connection's window full."""

    def __init__(
        self,
        config: RouterConfig,
        registry: Registry,
        ids: Iterator[str],
        paused: Callable[[StoredMessage], str | None] = lambda message: None,
    ) -> None:
        self.config = config
        self.registry = registry
        self.ids = ids
        """Message ids (:func:`~ai_connect.bridge.views.new_message_id`; tests number them)."""
        self.paused = paused
        """Why a message must wake nobody now (the loop brake, §3.6), if so."""
        self.burying: set[int] = set()
        """Damaged messages (store keys) whose move to the dead letters is not committed."""

    # --- sending (§3.1) ---------------------------------------------------------------

    def on_send(self, conn: Conn, frame: SendFrame, now: float) -> list[Action]:
        """Stores the message for its recipients; ``accepted`` follows the commit."""
        limits = self.config.limits
        sender = conn.address
        assert sender is not None
        body_size = len(frame.body.encode())
        if body_size > limits.max_body_bytes:
            raise Refusal(
                ErrorCode.BODY_TOO_LARGE,
                f"body of {body_size} bytes exceeds {limits.max_body_bytes}",
                "shorten the message or send it in parts",
            )
        probe = StoredMessage("", sender, "", "", frame.context, None, None, 0.0, "")
        if frame.context and message_bytes(probe) > limits.max_context_bytes:
            raise Refusal(
                ErrorCode.BODY_TOO_LARGE,
                f"context exceeds {limits.max_context_bytes} bytes",
                "share a smaller line range",
            )
        if frame.to == identity.BROADCAST:
            horizon = now - self.config.retention_s
            recipients = tuple(
                sorted(
                    a
                    for a, p in self.registry.peers.items()
                    if a != sender and (p.conn is not None or p.last_seen >= horizon)
                )
            )
            if not recipients:
                raise Refusal(
                    ErrorCode.UNKNOWN_PEER,
                    "no other peer is known, so nobody would receive a broadcast",
                    "wait until another agent has connected, then send again",
                )
            target = identity.BROADCAST
        else:
            target = self.registry.resolve(frame.to)
            recipients = (target,)
        message = StoredMessage(
            id=next(self.ids),
            sender=sender,
            to=target,
            body=frame.body,
            context=frame.context,
            thread=frame.thread,
            reply_to=frame.reply_to,
            ts=now,
            cid=frame.cid,
        )
        return [Persist(AppendOp(message, recipients), Origin(conn.id, frame.rid))]

    def on_committed(
        self,
        appends: tuple[tuple[Persist, AppendResult], ...],
        acks: tuple[Persist, ...],
    ) -> list[Action]:
        """Messages and acks are durable: answer their senders, deliver to the online."""
        out: list[Action] = []
        conns = self.registry.conns
        touched: dict[int, Conn] = {}
        counts = self.registry.counts
        for persist, result in appends:
            if result.duplicate:
                counts.duplicates += 1
            else:
                counts.accepted += 1
            message = result.message
            online: list[str] = []
            for recipient, seq in result.seqs.items():
                peer = self.registry.peers.get(recipient)
                if peer is None:
                    continue
                peer.tip = max(peer.tip, seq)
                if peer.conn is not None:
                    online.append(recipient)
                if result.duplicate:
                    continue
                for conn in self.registry.conns_of(peer):
                    if not conn.loading and conn.sent == seq - 1 and self._room(conn):
                        self._deliver(conn, MailboxEntry(recipient, seq, message), out)
                    touched[conn.id] = conn
            origin = persist.origin
            if origin is not None and origin.conn in conns:
                accepted = Accepted(
                    rid=origin.rid,
                    cid=message.cid,
                    id=message.id,
                    ts=message.ts,
                    to=message.to,
                    recipients=sorted(result.seqs),
                    online=sorted(online),
                    duplicate=result.duplicate,
                    paused=self.paused(message),
                )
                out.append(Send(origin.conn, accepted))
        for persist in acks:
            assert isinstance(persist.op, AckOp)
            acker = self.registry.peers.get(persist.op.recipient)
            if acker is not None:
                acker.stored_acked = max(acker.stored_acked, persist.op.seq)
            asker = persist.origin
            if asker is not None and asker.conn in conns:
                out.append(Send(asker.conn, Acked(rid=asker.rid, seq=persist.op.seq)))
        for conn in touched.values():
            if conn.address is not None:
                self._pump(conn, self.registry.peers[conn.address], out)
        return out

    # --- delivery and flow control (§3.2, §3.3) ---------------------------------------

    def pump(self, conn: Conn, peer: Peer) -> list[Action]:
        """Asks the store for the next page of ``peer``'s mailbox for ``conn``, if it has
        room (a newly registered connection starts here)."""
        out: list[Action] = []
        self._pump(conn, peer, out)
        return out

    def on_loaded(
        self, conn_id: int, after_seq: int, entries: tuple[MailboxEntry, ...], now: float
    ) -> list[Action]:
        """A page of the mailbox came from the store: deliver what fits the window.

        The page starts right after ``conn.sent`` (nothing is delivered to a connection
        while it loads), so each entry is the next, whatever the gaps in ``seq`` (messages
        moved aside leave them). A damaged entry is skipped, moved to the dead letters
        and reported once (``Damaged``): one bad record never blocks a mailbox.
        """
        out: list[Action] = []
        conn = self.registry.conns.get(conn_id)
        if conn is None or conn.address is None:
            return out
        conn.loading = False
        peer = self.registry.peers[conn.address]
        for entry in entries:
            if entry.seq <= conn.sent:
                continue
            # Read from the store, so committed, if perhaps before the router heard of its
            # commit (readers run beside the writer; or another node wrote it): the tip is
            # at least this, or the agent's ack of it would be refused as beyond the tip.
            peer.tip = max(peer.tip, entry.seq)
            if entry.damaged is not None:
                self._skip_damaged(conn, peer, entry, now, out)
            elif self._room(conn):
                self._deliver(conn, entry, out)
            else:
                break
        self._pump(conn, peer, out)
        return out

    def _skip_damaged(
        self, conn: Conn, peer: Peer, entry: MailboxEntry, now: float, out: list[Action]
    ) -> None:
        conn.sent = entry.seq
        if not conn.inflight and peer.acked == entry.seq - 1:
            # Nothing before it waits for an ack: it counts as handled, not as unread.
            peer.acked = entry.seq
            out.append(Persist(AckOp(peer.address, entry.seq)))
        if entry.key not in self.burying:
            assert entry.damaged is not None
            self.burying.add(entry.key)
            reason = entry.damaged
            out.append(Persist(BuryOp(entry.key, reason, now)))
            out.append(Damaged(entry.recipient, entry.seq, entry.message.id, reason))

    def buried(self, upkeep: tuple[Persist, ...]) -> None:
        """The store moved these aside (or failed to: a later read finds them again)."""
        for persist in upkeep:
            if isinstance(persist.op, BuryOp):
                self.burying.discard(persist.op.key)

    def on_ack(self, conn: Conn, frame: Ack, now: float) -> list[Action]:
        """The agent has the messages up to ``seq``: free the window, tell the others."""
        assert conn.address is not None
        peer = self.registry.peers[conn.address]
        if frame.seq > peer.tip:
            raise Refusal(
                ErrorCode.BAD_ACK,
                f"ack {frame.seq} is beyond the last delivered seq {peer.tip}",
                "ack only sequence numbers you received",
            )
        out: list[Action] = []
        origin = Origin(conn.id, frame.rid) if frame.rid is not None else None
        if frame.seq > peer.acked:
            self.registry.counts.acked += frame.seq - peer.acked
            peer.acked = frame.seq
            out.append(Persist(AckOp(peer.address, frame.seq), origin))
            for other in self.registry.conns_of(peer):
                if other is not conn:
                    # The messages reached the agent through this connection: the other
                    # connections of the address must not show them again (§2.2).
                    out.append(Send(other.id, Acked(seq=frame.seq)))
                    _release(other, frame.seq)
                    self._pump(other, peer, out)
        elif origin is not None and frame.seq > peer.stored_acked:
            # The ack that covers it is not committed yet (or failed): answer after a commit.
            out.append(Persist(AckOp(peer.address, frame.seq), origin))
        elif origin is not None:
            out.append(Send(conn.id, Acked(rid=origin.rid, seq=peer.stored_acked)))
        _release(conn, frame.seq)
        self._pump(conn, peer, out)
        return out

    def _room(self, conn: Conn) -> bool:
        limits = self.config.limits
        return len(conn.inflight) < limits.window_messages and (
            conn.inflight_bytes < limits.window_bytes or not conn.inflight
        )

    def _deliver(self, conn: Conn, entry: MailboxEntry, out: list[Action]) -> None:
        out.append(Send(conn.id, views.deliver(entry, self.paused(entry.message))))
        self.registry.counts.delivered += 1
        size = message_bytes(entry.message)
        conn.sent = entry.seq
        conn.inflight.append((entry.seq, size))
        conn.inflight_bytes += size

    def wake(self, peer: Peer, out: list[Action]) -> None:
        """``peer``'s tip moved without this node (bridge/cluster.py): each connection
        acting for it loads what it has not been sent."""
        for conn in self.registry.conns_of(peer):
            self._pump(conn, peer, out)

    def _pump(self, conn: Conn, peer: Peer, out: list[Action]) -> None:
        if conn.loading or conn.sent >= peer.tip or not self._room(conn):
            return
        limits = self.config.limits
        conn.loading = True
        out.append(
            LoadPending(
                conn.id,
                peer.address,
                conn.sent,
                limits.window_messages - len(conn.inflight),
                max(1, limits.window_bytes - conn.inflight_bytes),
            )
        )


def _release(conn: Conn, seq: int) -> None:
    """Everything up to ``seq`` is acked: it leaves the connection's window."""
    conn.sent = max(conn.sent, seq)
    while conn.inflight and conn.inflight[0][0] <= seq:
        conn.inflight_bytes -= conn.inflight.popleft()[1]
