"""Sending, commit replies, delivery and flow control (§3.1, §3.2, §3.3).

A part of :class:`~ai_connect.bridge.core.Router`: it reads and writes the peers and
connections of the :class:`~ai_connect.bridge.state.Registry` it is given, and raises
:class:`~ai_connect.bridge.refusal.Refusal` for a ``send`` or ``ack`` it will not take.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator

from ai_connect import identity
from ai_connect.bridge import views
from ai_connect.bridge.events import Action, Damaged, LoadPending, Origin, Persist, Send
from ai_connect.bridge.feed import Feed, Mark, Unshown
from ai_connect.bridge.refusal import Refusal
from ai_connect.bridge.state import Conn, Peer, Phase, Registry, RouterConfig
from ai_connect.bridge.store.base import (
    AckOp,
    AppendOp,
    AppendResult,
    BuryOp,
    DeliveredOp,
    MailboxEntry,
    PeerRecord,
    StoredMessage,
    message_bytes,
)
from ai_connect.protocol import ErrorCode, ReceiptNotice, flow_bytes
from ai_connect.protocol.hot import AckFrame, SendFrame, accepted_data, acked_data, deliver_data

__all__ = ["READY_WINDOWS", "Delivery"]

READY_WINDOWS = 4
"""Entries a connection keeps ready in memory beyond its window, in windows of messages
(one window of bytes): committed while the window was full, or read ahead from the store.
Past it, or after a reconnect, the store is read (issue 13: 97 % of deliveries were read
back from the store before; docs/security.md, "Memory")."""


class Delivery:
    """Accepts ``send`` and ``ack`` frames and keeps each connection's window full."""

    def __init__(
        self,
        config: RouterConfig,
        registry: Registry,
        ids: Iterator[str],
        paused: Callable[[StoredMessage], str | None] = lambda message: None,
        feed: Feed | None = None,
    ) -> None:
        self.config = config
        self.registry = registry
        self.ids = ids
        """Message ids (:func:`~ai_connect.bridge.views.new_message_id`; tests number them)."""
        self.paused = paused
        """Why a message must wake nobody now (the loop brake, §3.6), if so."""
        self.burying: set[int] = set()
        """Damaged messages (store keys) whose move to the dead letters is not committed."""
        self.feed = feed if feed is not None else Feed(registry)
        """The observers, told of each message, delivery and ack (§9)."""
        self.unshown = Unshown()
        """The entries delivered and not acked yet: what each ack covers (§9, §3.7)."""
        self.marks_due: dict[str, list[list[float]]] = {}
        """Delivery marks not stored yet, per recipient: ``[seq, when]`` runs (one per
        loop turn); they ride along in the next commit (§3.7)."""
        self._last: tuple[StoredMessage, str | None, bytes, int] | None = None
        """The last message delivered: its ``paused``, its encoded ``deliver`` tail and its
        flow size, shared by all its recipients (a broadcast is encoded once)."""

    # --- sending (§3.1) ---------------------------------------------------------------

    def sender_of(self, conn: Conn, frame: SendFrame) -> tuple[str, bool]:
        """The address a ``send`` comes from, and whether a person sent it: an observer
        sends as the human ``as`` (else its own name) in its project (§9.3)."""
        assert conn.address is not None
        if conn.phase is Phase.OBSERVE:
            name, project = identity.parse_address(conn.address) or (conn.address, "")
            return identity.format_address(frame.as_ or name, project), True
        if frame.as_ is not None:
            raise Refusal(
                ErrorCode.FORBIDDEN,
                "only an observer connection may send as someone ('as')",
                "send without 'as', or as an observer (hello mode 'observe', ai-connect watch)",
            )
        return conn.address, False

    def on_send(
        self, conn: Conn, frame: SendFrame, now: float, sender: str, human: bool
    ) -> tuple[list[Action], str]:
        """Stores the message for its recipients (``sender``, ``human``: from
        :meth:`sender_of`); ``accepted`` follows the commit. Also returns the address it
        is sent to (a peer's, or the broadcast's)."""
        limits = self.config.limits
        # A character is 1 to 4 bytes of UTF-8: most bodies need no encoding to know.
        if len(frame.body) * 4 > limits.max_body_bytes:
            body_size = len(frame.body.encode())
            if body_size > limits.max_body_bytes:
                raise Refusal(
                    ErrorCode.BODY_TOO_LARGE,
                    f"body of {body_size} bytes exceeds {limits.max_body_bytes}",
                    "shorten the message or send it in parts",
                )
        if frame.context and flow_bytes("", frame.context) > limits.max_context_bytes:
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
            target = self.registry.resolve(frame.to, sender)
            recipients = (target,)
        out: list[Action] = []
        if human:
            out.append(Persist(self._human(sender, now)))
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
            human=human,
            receipt=bool(frame.receipt) or conn.receipts,
        )
        out.append(Persist(AppendOp(message, recipients), Origin(conn.id, frame.rid)))
        return out, target

    def _human(self, address: str, now: float) -> PeerRecord:
        """The peer record of a person who sends through an observer (§9.3): known, so
        that agents can answer; never online. A live peer's address is not theirs."""
        peer = self.registry.peers.get(address)
        if peer is not None and peer.conn is not None:
            raise Refusal(
                ErrorCode.ADDRESS_IN_USE,
                f"{address} is a live peer; a person may not send under its address",
                "send as another name ('as', ai-connect watch --as NAME)",
            )
        if peer is None:
            name, project = identity.parse_address(address) or (address, "")
            peer = self.registry.peers[address] = Peer(address, name, project, now, now)
        peer.last_seen = now
        return peer.record()

    def on_committed(
        self,
        appends: tuple[tuple[Persist, AppendResult], ...],
        acks: tuple[Persist, ...],
        now: float = 0.0,
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
            paused = self.paused(message)
            online: list[str] = []
            start = len(out)
            for recipient, seq in result.seqs.items():
                peer = self.registry.peers.get(recipient)
                if peer is None:
                    continue
                peer.tip = max(peer.tip, seq)
                if peer.online:  # here, or on another node (bridge/cluster.py)
                    online.append(recipient)
                if result.duplicate:
                    continue
                entry: MailboxEntry | None = None
                for conn in self.registry.conns_of(peer):
                    touched[conn.id] = conn
                    if conn.loading:
                        continue  # the page on its way, or the next one, brings it
                    if conn.through < 0 and not conn.ready and conn.sent == seq - 1:
                        conn.through = conn.sent  # nothing between: back to memory
                    if conn.through != seq - 1:
                        conn.through = -1  # a gap before it: read from the store
                        continue
                    entry = entry or MailboxEntry(recipient, seq, message)
                    conn.through = seq
                    if not conn.ready and self._room(conn):
                        self._deliver(conn, entry, out, now, paused)
                    elif not self._keep(conn, entry):
                        conn.through = -1
            if not result.duplicate and self.feed:
                # Observers hear of the message before the deliveries it caused.
                out[start:start] = self.feed.message(message, result.seqs, online, paused)
            origin = persist.origin
            if origin is not None and origin.conn in conns:
                accepted = accepted_data(
                    origin.rid,
                    message.cid,
                    message.id,
                    message.ts,
                    message.to,
                    sorted(result.seqs),
                    sorted(online),
                    result.duplicate,
                    paused,
                )
                out.append(Send(origin.conn, data=accepted))
        for persist in acks:
            assert isinstance(persist.op, AckOp)
            acker = self.registry.peers.get(persist.op.recipient)
            if acker is not None:
                acker.stored_acked = max(acker.stored_acked, persist.op.seq)
            asker = persist.origin
            if asker is not None and asker.conn in conns:
                out.append(Send(asker.conn, data=acked_data(asker.rid, persist.op.seq)))
        for conn in touched.values():
            if conn.address is not None:
                self._pump(conn, self.registry.peers[conn.address], out, now)
        return out

    # --- delivery and flow control (§3.2, §3.3) ---------------------------------------

    def pump(self, conn: Conn, peer: Peer, now: float) -> list[Action]:
        """Asks the store for the next page of ``peer``'s mailbox for ``conn``, if it has
        room (a newly registered connection starts here)."""
        out: list[Action] = []
        self._pump(conn, peer, out, now)
        return out

    def on_loaded(
        self,
        conn_id: int,
        after_seq: int,
        entries: tuple[MailboxEntry, ...],
        now: float,
        prepared: tuple[tuple[bytes, int] | None, ...] = (),
    ) -> list[Action]:
        """A page of the mailbox came from the store: deliver what fits the window, keep
        what follows ready in memory.

        The page starts right after the last entry the connection knows (the last of its
        ready queue, else ``conn.sent``; while it loads, nothing is added to that queue),
        so each entry is the next, whatever the gaps in ``seq`` (messages moved aside
        leave them). A damaged entry is skipped, moved to the dead letters and reported
        once (``Damaged``): one bad record never blocks a mailbox. ``prepared``: each
        entry's ``deliver`` tail and flow size, made on the reader thread (``views.prepare``).
        """
        out: list[Action] = []
        conn = self.registry.conns.get(conn_id)
        if conn is None or conn.address is None:
            return out
        conn.loading = False
        peer = self.registry.peers[conn.address]
        complete = True
        last = conn.ready[-1][0].seq if conn.ready else conn.sent
        for i, entry in enumerate(entries):
            if entry.seq <= last:
                continue
            tail, size = (prepared[i] if prepared else None) or (None, -1)
            # Read from the store, so committed, if perhaps before the router heard of its
            # commit (readers run beside the writer; or another node wrote it): the tip is
            # at least this, or the agent's ack of it would be refused as beyond the tip.
            # Its late Committed finds it sent and delivers nothing twice.
            peer.tip = max(peer.tip, entry.seq)
            if conn.ready:  # no room: keep what was read ahead, in order
                if entry.damaged is not None or not self._keep(conn, entry, tail, size):
                    complete = False
                    break
            elif entry.damaged is not None:
                self._skip_damaged(conn, peer, entry, now, out)
            elif self._room(conn):
                self._deliver(conn, entry, out, now, self.paused(entry.message), tail, size)
            elif not self._keep(conn, entry, tail, size):
                complete = False
                break
        last = conn.ready[-1][0].seq if conn.ready else conn.sent
        # Everything up to the tip is in memory now, or what follows is read later.
        conn.through = last if complete and last >= peer.tip else -1
        self._pump(conn, peer, out, now)
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

    def on_ack(self, conn: Conn, frame: AckFrame, now: float) -> list[Action]:
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
            out.append(Persist(AckOp(peer.address, frame.seq, frame.path, now), origin))
            out += self.shown(peer.address, frame.seq, frame.path, conn.id, now)
            for other in self.registry.conns_of(peer):
                if other is not conn:
                    # The messages reached the agent through this connection: the other
                    # connections of the address must not show them again (§2.2).
                    out.append(Send(other.id, data=acked_data(None, frame.seq)))
                    _release(other, frame.seq)
                    self._pump(other, peer, out, now)
        elif origin is not None and frame.seq > peer.stored_acked:
            # The ack that covers it is not committed yet (or failed): answer after a commit.
            out.append(Persist(AckOp(peer.address, frame.seq, frame.path, now), origin))
        elif origin is not None:
            out.append(Send(conn.id, data=acked_data(origin.rid, peer.stored_acked)))
        _release(conn, frame.seq)
        self._pump(conn, peer, out, now)
        return out

    def _room(self, conn: Conn) -> bool:
        limits = self.config.limits
        inflight = conn.inflight
        if not inflight:
            return True
        return len(inflight) < limits.window_messages and (
            conn.inflight_bytes < limits.window_bytes
        )

    def shown(
        self, recipient: str, upto: int, path: str | None, conn: int | None, now: float
    ) -> list[Action]:
        """An ack (or a resume cursor) covered ``recipient``'s entries up to ``upto``:
        they were shown, through ``path``; the observers are told."""
        taken = self.unshown.shown(recipient, upto)
        if not taken:
            return []
        out = self.feed.shown(recipient, taken, path, conn, now)
        for _, mark in taken:
            sender = self.registry.peers.get(mark.sender) if mark.receipt else None
            if sender is not None:
                receipt = ReceiptNotice(id=mark.id, recipient=recipient, path=path, ts=now)
                out += [Send(c.id, receipt) for c in self.registry.conns_of(sender)]
        return out

    def flush_marks(self) -> list[Persist]:
        """The delivery marks waiting to be stored, as writes for the next commit."""
        due, self.marks_due = self.marks_due, {}
        return [
            Persist(DeliveredOp(recipient, int(seq), when))
            for recipient, runs in due.items()
            for seq, when in runs
        ]

    def _deliver(
        self,
        conn: Conn,
        entry: MailboxEntry,
        out: list[Action],
        now: float,
        paused: str | None,
        tail: bytes | None = None,
        size: int = -1,
    ) -> None:
        """Sends ``entry`` on ``conn``; ``paused``: :attr:`paused` of its message, now;
        ``tail`` and ``size``: its ``deliver`` tail (not paused) and flow size, if made
        already (a page read ahead, ``views.prepare``)."""
        message = entry.message
        if tail is None or paused is not None:
            last = self._last
            if last is not None and last[0] is message and last[1] == paused:
                tail, size = last[2], last[3]
            else:
                tail, size = views.deliver_tail(message, paused), message_bytes(message)
                self._last = (message, paused, tail, size)
        recipient, seq = entry.recipient, entry.seq
        out.append(Send(conn.id, data=deliver_data(seq, tail)))
        self.registry.counts.delivered += 1
        mark = Mark(
            message.id, message.sender, now, conn.kind or "unknown", conn.id, message.receipt
        )
        if self.unshown.delivered(recipient, seq, mark):
            runs = self.marks_due.get(recipient)
            if runs is None:
                self.marks_due[recipient] = [[seq, now]]
            elif runs[-1][1] == now:
                runs[-1][0] = max(runs[-1][0], seq)  # one mark per turn and recipient
            else:
                runs.append([seq, now])
        if self.feed.observers:
            out += self.feed.delivered(recipient, seq, mark)
        conn.sent = seq
        inflight = conn.inflight
        if inflight is None:
            inflight = conn.inflight = deque()
        inflight.append((seq, size))
        conn.inflight_bytes += size

    def wake(self, peer: Peer, out: list[Action], now: float) -> None:
        """``peer``'s tip moved without this node (bridge/cluster.py): each connection
        acting for it loads what it has not been sent."""
        for conn in self.registry.conns_of(peer):
            self._pump(conn, peer, out, now)

    def _keep(
        self, conn: Conn, entry: MailboxEntry, tail: bytes | None = None, size: int = -1
    ) -> bool:
        """Keeps ``entry`` ready for the window, if the connection's ready queue has room
        (``READY_WINDOWS`` windows of messages, one of bytes)."""
        limits = self.config.limits
        ready = conn.ready
        if ready is None:  # made when first needed: most connections never need one
            ready = conn.ready = deque()
        elif (
            len(ready) >= READY_WINDOWS * limits.window_messages
            or conn.ready_bytes >= limits.window_bytes
        ):
            return False
        if size < 0:
            size = message_bytes(entry.message)
        ready.append((entry, size, tail))
        conn.ready_bytes += _held(size, tail)
        return True

    def _pump(self, conn: Conn, peer: Peer, out: list[Action], now: float) -> None:
        """Fills ``conn``'s window from its ready queue; reads the store ahead when that
        queue runs low and the store holds more (after a reconnect, or an overflow)."""
        ready = conn.ready
        limits = self.config.limits
        if ready:
            window, window_bytes = limits.window_messages, limits.window_bytes
            while ready:
                inflight = conn.inflight  # _room(), inlined: once per delivery
                if inflight and (len(inflight) >= window or conn.inflight_bytes >= window_bytes):
                    break
                entry, size, tail = ready.popleft()
                conn.ready_bytes -= size if tail is None else size + len(tail)  # _held()
                if entry.seq > conn.sent:
                    paused = self.paused(entry.message)
                    self._deliver(conn, entry, out, now, paused, tail, size)
        if ready is not None and not ready:
            ready = conn.ready = None  # drained: its memory goes back
        if conn.loading:
            return
        last = ready[-1][0].seq if ready else conn.sent
        if last >= peer.tip:
            if not ready and conn.through < 0:
                conn.through = conn.sent  # all delivered: back to memory
            return
        if conn.through >= peer.tip:
            return  # all of it in memory
        if ready and (
            len(ready) >= limits.window_messages or conn.ready_bytes >= limits.window_bytes
        ):
            return  # enough of it to go on with: read when it runs low
        # Read the store from the last entry known: the page fills the window and the
        # ready queue (fewer, larger reads; the next read starts while a window remains).
        conn.loading = True
        conn.through = -1
        room = max(0, limits.window_messages - len(conn.inflight or ()))
        room_bytes = max(0, limits.window_bytes - conn.inflight_bytes)
        out.append(
            LoadPending(
                conn.id,
                peer.address,
                last,
                room + READY_WINDOWS * limits.window_messages - len(ready or ()),
                max(1, room_bytes + limits.window_bytes - conn.ready_bytes),
            )
        )


def _held(size: int, tail: bytes | None) -> int:
    """What a ready entry counts against the ready queue's bytes: its flow size, plus its
    encoded ``deliver`` tail when it came with one (docs/security.md, "Memory")."""
    return size if tail is None else size + len(tail)


def _release(conn: Conn, seq: int) -> None:
    """Everything up to ``seq`` is acked: it leaves the connection's window (and its
    ready queue, when another connection of the address acked it)."""
    conn.sent = max(conn.sent, seq)
    inflight = conn.inflight
    if inflight is not None:
        while inflight and inflight[0][0] <= seq:
            conn.inflight_bytes -= inflight.popleft()[1]
        if not inflight:
            conn.inflight = None  # all acked: its memory goes back
    while conn.ready and conn.ready[0][0].seq <= seq:
        _, size, tail = conn.ready.popleft()
        conn.ready_bytes -= _held(size, tail)
    if 0 <= conn.through < conn.sent:
        conn.through = conn.sent
