"""Sending, commit replies, delivery and flow control (§3.1, §3.2, §3.3).

A mixin of :class:`~ai_connect.bridge.core.Router`: it works on the state declared in
:mod:`ai_connect.bridge.state`.
"""

from __future__ import annotations

from ai_connect import identity
from ai_connect.bridge.events import Action, LoadPending, Origin, Persist, Send
from ai_connect.bridge.state import _Conn, _Peer, _RouterState
from ai_connect.bridge.store.base import (
    AckOp,
    AppendOp,
    AppendResult,
    MailboxEntry,
    StoredMessage,
    message_bytes,
)
from ai_connect.errors import UnknownPeer
from ai_connect.protocol import Accepted, Ack, Acked, Deliver, ErrorCode
from ai_connect.protocol import Send as SendFrame

__all__: list[str] = []


class _Delivery(_RouterState):
    """Accepts ``send`` and ``ack`` frames and keeps each connection's window full."""

    # --- sending (§3.1) ---------------------------------------------------------------

    def _on_send(self, state: _Conn, frame: SendFrame, now: float, out: list[Action]) -> None:
        limits = self.config.limits
        sender = state.address
        assert sender is not None
        body_size = len(frame.body.encode())
        if body_size > limits.max_body_bytes:
            self._error(
                state,
                now,
                out,
                ErrorCode.BODY_TOO_LARGE,
                f"body of {body_size} bytes exceeds {limits.max_body_bytes}",
                "shorten the message or send it in parts",
                frame.rid,
            )
            return
        probe = StoredMessage("", sender, "", "", frame.context, None, None, 0.0, "")
        if frame.context and message_bytes(probe) > limits.max_context_bytes:
            self._error(
                state,
                now,
                out,
                ErrorCode.BODY_TOO_LARGE,
                f"context exceeds {limits.max_context_bytes} bytes",
                "share a smaller line range",
                frame.rid,
            )
            return
        if frame.to == identity.BROADCAST:
            horizon = now - self.config.retention_s
            recipients = tuple(
                sorted(
                    a
                    for a, p in self._peers.items()
                    if a != sender and (p.conn is not None or p.last_seen >= horizon)
                )
            )
            if not recipients:
                self._error(
                    state,
                    now,
                    out,
                    ErrorCode.UNKNOWN_PEER,
                    "no other peer is known, so nobody would receive a broadcast",
                    "wait until another agent has connected, then send again",
                    frame.rid,
                )
                return
            target = identity.BROADCAST
        else:
            try:
                target = identity.resolve(frame.to, self._peers.keys())
            except UnknownPeer as exc:
                self._error(
                    state,
                    now,
                    out,
                    exc.code,
                    exc.message,
                    exc.hint,
                    frame.rid,
                    list(exc.candidates),
                )
                return
            recipients = (target,)
        message = StoredMessage(
            id=next(self._ids),
            sender=sender,
            to=target,
            body=frame.body,
            context=frame.context,
            thread=frame.thread,
            reply_to=frame.reply_to,
            ts=now,
            cid=frame.cid,
        )
        out.append(Persist(AppendOp(message, recipients), Origin(state.id, frame.rid)))
        self._brake_send(state, frame, target, now, out)  # §3.6: notices follow the message
        out += self._book.on_message(sender, frame.thread, frame.body, now)  # §8.2 tags

    def _on_committed(
        self,
        appends: tuple[tuple[Persist, AppendResult], ...],
        acks: tuple[Persist, ...],
        out: list[Action],
    ) -> None:
        touched: dict[int, _Conn] = {}
        for persist, result in appends:
            message = result.message
            online: list[str] = []
            for recipient, seq in result.seqs.items():
                peer = self._peers.get(recipient)
                if peer is None:
                    continue
                peer.tip = max(peer.tip, seq)
                if peer.conn is not None:
                    online.append(recipient)
                if result.duplicate:
                    continue
                for conn in self._conns_of(peer):
                    if not conn.loading and conn.sent == seq - 1 and self._room(conn):
                        self._deliver(conn, MailboxEntry(recipient, seq, message), out)
                    touched[conn.id] = conn
            if persist.origin is not None:
                origin = persist.origin
                if origin.conn in self._conns:
                    out.append(
                        Send(
                            origin.conn,
                            Accepted(
                                rid=origin.rid,
                                cid=message.cid,
                                id=message.id,
                                ts=message.ts,
                                to=message.to,
                                recipients=sorted(result.seqs),
                                online=sorted(online),
                                duplicate=result.duplicate,
                                paused=self._paused_reason(message),
                            ),
                        )
                    )
        for persist in acks:
            assert isinstance(persist.op, AckOp)
            acker = self._peers.get(persist.op.recipient)
            if acker is not None:
                acker.stored_acked = max(acker.stored_acked, persist.op.seq)
            asker = persist.origin
            if asker is not None and asker.conn in self._conns:
                out.append(Send(asker.conn, Acked(rid=asker.rid, seq=persist.op.seq)))
        for conn in touched.values():
            if conn.address is not None:
                self._pump(conn, self._peers[conn.address], out)

    # --- delivery and flow control (§3.2, §3.3) ---------------------------------------

    def _room(self, conn: _Conn) -> bool:
        limits = self.config.limits
        return len(conn.inflight) < limits.window_messages and (
            conn.inflight_bytes < limits.window_bytes or not conn.inflight
        )

    def _deliver(self, conn: _Conn, entry: MailboxEntry, out: list[Action]) -> None:
        m = entry.message
        out.append(
            Send(
                conn.id,
                Deliver(
                    seq=entry.seq,
                    id=m.id,
                    from_=m.sender,
                    to=m.to,
                    body=m.body,
                    context=m.context,
                    thread=m.thread,
                    reply_to=m.reply_to,
                    ts=m.ts,
                    paused=self._paused_reason(m),
                ),
            )
        )
        size = message_bytes(m)
        conn.sent = entry.seq
        conn.inflight.append((entry.seq, size))
        conn.inflight_bytes += size

    def _pump(self, conn: _Conn, peer: _Peer, out: list[Action]) -> None:
        """Asks the store for the next page of the mailbox when the window has room."""
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

    def _on_loaded(
        self,
        conn_id: int,
        after_seq: int,
        entries: tuple[MailboxEntry, ...],
        out: list[Action],
    ) -> None:
        conn = self._conns.get(conn_id)
        if conn is None or conn.address is None:
            return
        conn.loading = False
        for entry in entries:
            if entry.seq == conn.sent + 1 and self._room(conn):
                self._deliver(conn, entry, out)
        self._pump(conn, self._peers[conn.address], out)

    def _on_ack(self, state: _Conn, frame: Ack, now: float, out: list[Action]) -> None:
        assert state.address is not None
        peer = self._peers[state.address]
        if frame.seq > peer.tip:
            self._error(
                state,
                now,
                out,
                ErrorCode.BAD_ACK,
                f"ack {frame.seq} is beyond the last delivered seq {peer.tip}",
                "ack only sequence numbers you received",
                frame.rid,
            )
            return
        origin = Origin(state.id, frame.rid) if frame.rid is not None else None
        if frame.seq > peer.acked:
            peer.acked = frame.seq
            out.append(Persist(AckOp(peer.address, frame.seq), origin))
            for other in self._conns_of(peer):
                if other is not state:
                    # The messages reached the agent through this connection: the other
                    # connections of the address must not show them again (§2.2).
                    out.append(Send(other.id, Acked(seq=frame.seq)))
                    self._release(other, frame.seq)
                    self._pump(other, peer, out)
        elif origin is not None and frame.seq > peer.stored_acked:
            # The ack that covers it is not committed yet (or failed): answer after a commit.
            out.append(Persist(AckOp(peer.address, frame.seq), origin))
        elif origin is not None:
            out.append(Send(state.id, Acked(rid=origin.rid, seq=peer.stored_acked)))
        self._release(state, frame.seq)
        self._pump(state, peer, out)

    @staticmethod
    def _release(conn: _Conn, seq: int) -> None:
        """Everything up to ``seq`` is acked: it leaves the connection's window."""
        conn.sent = max(conn.sent, seq)
        while conn.inflight and conn.inflight[0][0] <= seq:
            conn.inflight_bytes -= conn.inflight.popleft()[1]
