"""One connection's way out: a queue of encoded frames, at most one close, and what writes
them; and when the server may read that connection's next frame.

``BridgeServer`` (``bridge/server.py``) reads each connection and carries out the
router's actions; every frame it sends and every close it decides goes through that
connection's :class:`Link`. The link never blocks the server: ``send`` and ``close``
only queue, and the queue is written at the end of the loop turn (:meth:`Link._flush`),
by one callback for all the links that queued a frame in that turn (:class:`EndOfTurn`:
a broadcast to 500 makes one, not 500). A task exists only while the link has to wait
-- websockets' buffer draining to a slow reader, a held refusal, a close handshake -- so
an idle connection costs no task, coroutine nor future (issue 13, 10,000 idle peers),
and a write costs no task wake-up.

Every buffer is bounded in bytes (docs/security.md, "Memory"). A connection whose
replies are not drained is simply **not read** any more: the server awaits
:meth:`Link.readable` before each next frame, which waits while the bytes waiting for
it (this queue and the socket's write buffer) are above ``pause_bytes`` or
``max_replies`` of its queries are still being answered. Its own requests then wait in
its own socket buffers; nothing is dropped and the bridge's memory stays flat. Only a
link whose queue passes ``max_bytes`` anyway -- frames it did not ask for, such as
presence events, to a client that never reads -- is closed (1008).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import struct
from collections import deque
from dataclasses import dataclass

from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed
from websockets.protocol import Protocol, State

from ai_connect.bridge.core import CLOSE_POLICY

__all__ = [
    "WRITE_BATCH_BYTES",
    "Close",
    "EndOfTurn",
    "Link",
    "LinkLimits",
    "Reply",
    "text_frame_header",
]

log = logging.getLogger("ai_connect.bridge")

WRITE_BATCH_BYTES = 64 * 1024
"""Bytes of frames written to one link at once; then websockets' flow control applies."""


_SHORT = struct.Struct("!BB")
_MEDIUM = struct.Struct("!BBH")
_LONG = struct.Struct("!BBQ")


def text_frame_header(size: int) -> bytes:
    """The header of one final, unmasked WebSocket text frame of ``size`` bytes of payload
    (RFC 6455 §5.2: FIN and opcode 1, then a 7-bit, 16-bit or 64-bit length): what
    websockets' ``send_text`` writes for a server without extensions, for ~0.2 µs instead
    of ~2 µs a frame (issue 13: a drained backlog is a few hundred frames per write)."""
    if size < 126:
        return _SHORT.pack(0x81, size)
    if size < 65536:
        return _MEDIUM.pack(0x81, 126, size)
    return _LONG.pack(0x81, 127, size)


@dataclass(frozen=True, slots=True)
class LinkLimits:
    """How much one connection may have waiting for it (docs/security.md, "Memory")."""

    pause_bytes: int = 1_048_576
    """Stop reading the connection while more than this waits to be written to it."""
    max_bytes: int = 16_777_216
    """Close the connection (1008) rather than queue more than this for it."""
    max_replies: int = 2
    """Queries of one connection answered at once; its next frame waits for a reply."""


@dataclass(frozen=True, slots=True)
class Close:
    """The last item of a link's queue: close with ``code`` and ``reason``."""

    code: int
    reason: str


class EndOfTurn:
    """The links that queued frames in this loop turn, written at its end by one callback
    (a server's links share one: ``BridgeServer``), in the order they queued their first."""

    __slots__ = ("_handle", "_links")

    def __init__(self) -> None:
        self._links: list[Link] = []
        self._handle: asyncio.Handle | None = None

    def add(self, link: Link, loop: asyncio.AbstractEventLoop) -> None:
        self._links.append(link)
        if self._handle is None:
            self._handle = loop.call_soon(self._run)

    def _run(self) -> None:
        self._handle = None
        links, self._links = self._links, []
        for link in links:
            try:
                link._flush()
            except Exception:  # one link's failure is not the others'
                link.log.exception("writing to connection %d failed", link.conn)


class Reply:
    """One query's place among its connection's replies (:meth:`Link.reply_started`)."""

    __slots__ = ("data", "done")

    def __init__(self) -> None:
        self.done = False
        self.data: str | bytes | None = None


class Link:
    """The writing side of one WebSocket connection.

    ``send(text)`` queues a frame, ``close(code, reason)`` queues the close after the
    frames already queued; nothing is queued after a close. ``throttle`` sets ``pause``
    (rate limit, protocol §5.1) and ``reply_started``/``reply_done`` count the queries
    being answered; :meth:`readable` is what the server's reader waits on.
    """

    def __init__(
        self,
        ws: ServerConnection,
        conn: int,
        limits: LinkLimits | None = None,
        turn: EndOfTurn | None = None,
    ) -> None:
        self.ws = ws
        self.conn = conn
        remote = ws.remote_address
        self.where = f"{remote[0]}:{remote[1]}" if isinstance(remote, tuple) else "?"
        """``host:port`` of the peer (``?`` for a socket handed in without an address)."""
        self.log = logging.LoggerAdapter(log, {"conn": conn, "remote": self.where})
        """The bridge's logger, carrying this connection's id and remote address."""
        self.limits = limits or LinkLimits()
        self.pause = 0.0
        """Seconds to wait before reading its next frame (rate limit, protocol §5.1)."""
        self._answers: deque[Reply] | None = None
        """The replies of :attr:`replies`, in the order asked (``None`` while none)."""
        # An idle connection costs what it keeps: a list, not a deque (~0.7 KB), and
        # futures made while something waits, not three Events (~0.7 KB each; issue 13,
        # 10,000 idle peers).
        self._queue: list[bytes | Close] = []
        self._queued = 0
        """Bytes of the frames in ``_queue``."""
        self._room: asyncio.Future[None] | None = None
        """What the reader waits on (:meth:`readable`): resolved when the backlog shrank
        or a reply was queued, so it may look again."""
        self._stalled = False
        self._stalled_event: asyncio.Event | None = None
        self._closing = False
        self._held_until = 0.0
        """Loop time before which nothing queued is written (:meth:`hold`)."""
        self._loop: asyncio.AbstractEventLoop | None = None
        """Set by :meth:`start`: until then frames only queue."""
        self._turn = turn or EndOfTurn()
        """What writes the queue at the end of the loop turn (shared by a server's links)."""
        self._flushing = False
        """The end-of-turn write (:meth:`_flush`) is due."""
        self._writer: asyncio.Task[None] | None = None
        """The task that writes while the link has to wait (:meth:`_write_later`)."""
        self._closer: Close | None = None
        """The close the writer task performs next (its frames are written)."""
        self._done = False
        """Nothing more is written: the close was sent, or the connection is not open."""

    @property
    def stalled(self) -> asyncio.Event:
        """Set while the server does not read this connection because its replies are not
        drained (:meth:`readable`); for ``/metrics`` and tests (made when first asked)."""
        if self._stalled_event is None:
            self._stalled_event = asyncio.Event()
            if self._stalled:
                self._stalled_event.set()
        return self._stalled_event

    def _set_stalled(self, stalled: bool) -> None:
        if stalled != self._stalled:
            self._stalled = stalled
            if self._stalled_event is not None:
                if stalled:
                    self._stalled_event.set()
                else:
                    self._stalled_event.clear()

    def _schedule(self) -> None:
        """Writes what is queued at the end of this loop turn, unless that is planned
        already or the writer task is at work (it takes what is queued meanwhile)."""
        loop = self._loop
        if loop is not None and not self._flushing and self._writer is None and not self._done:
            self._flushing = True
            self._turn.add(self, loop)

    def _wake_reader(self) -> None:
        room = self._room
        if room is not None and not room.done():
            room.set_result(None)

    def start(self) -> None:
        """Lets the link write: what is queued, and every later frame, leaves at the end
        of the loop turn it was queued in."""
        self._loop = asyncio.get_running_loop()
        if self._queue:
            self._schedule()

    async def stop(self) -> None:
        """Stops writing; whatever is still queued is dropped."""
        self._closing = True
        self._done = True
        self._wake_reader()
        self._flushing = False  # (its end-of-turn write finds the link done)
        writer = self._writer
        if writer is not None:
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await writer

    @property
    def closing(self) -> bool:
        """A close is queued (or written): later frames are dropped."""
        return self._closing

    @property
    def backlog(self) -> int:
        """Bytes waiting to reach the peer: queued frames and the socket's write buffer."""
        transport = self.ws.transport
        buffered = transport.get_write_buffer_size() if transport is not None else 0
        return self._queued + buffered

    def send(self, data: str | bytes) -> None:
        """Queues one encoded frame; a link ``max_bytes`` behind is closed instead (1008)."""
        if self._closing:
            return
        frame = data.encode() if isinstance(data, str) else data
        if self._queued + len(frame) > self.limits.max_bytes:
            self.close(CLOSE_POLICY, "not reading its frames")
            return
        self._queue.append(frame)
        self._queued += len(frame)
        self._schedule()

    def throttle(self, seconds: float) -> None:
        """Reads from this link wait at least ``seconds`` before the next frame."""
        self.pause = max(self.pause, seconds)

    def hold(self, seconds: float) -> None:
        """Writes nothing for ``seconds``: what is queued meanwhile waits (a failed
        login's refusal, bridge/logins.py); keepalive pings and pongs are not held."""
        until = asyncio.get_running_loop().time() + seconds
        self._held_until = max(self._held_until, until)

    @property
    def replies(self) -> int:
        """Queries of this connection being answered (:meth:`reply_started`), or answered
        and waiting for a reply asked before theirs."""
        return len(self._answers) if self._answers is not None else 0

    def reply_started(self) -> Reply:
        """A query of this connection is being answered (off the event loop): its place
        among the replies, for :meth:`reply_done`."""
        reply = Reply()
        if self._answers is None:
            self._answers = deque()
        self._answers.append(reply)
        return reply

    def reply_done(self, reply: Reply, data: str | bytes | None) -> None:
        """Its answer is ready (``None``: nothing to send). Replies leave in the order
        their queries were asked (two are answered at once, on two threads, and may
        finish the other way round): each waits for those asked before it. Lets the
        reader on."""
        reply.done, reply.data = True, data
        answers = self._answers
        while answers and answers[0].done:
            ready = answers.popleft().data
            if ready is not None:
                self.send(ready)
        if not answers:
            self._answers = None
        self._wake_reader()

    def clear_to_read(self) -> bool:
        """Whether the server may read the next frame now, without :meth:`readable`: no
        rate pause, room for another query, little waiting to be written, not stalled.
        Most frames pass: the reader then makes no coroutine per frame (issue 13)."""
        limits = self.limits
        return (
            not self._stalled
            and self.pause <= 0
            and self.replies < limits.max_replies
            and self.backlog <= limits.pause_bytes
        )

    async def readable(self) -> None:
        """Returns once the server may read this connection's next frame: its rate pause
        is over, fewer than ``max_replies`` of its queries are being answered, and at most
        ``pause_bytes`` wait to be written to it (or it is closing)."""
        limits = self.limits
        while not self._closing:
            if self.pause > 0:
                pause, self.pause = self.pause, 0.0
                await asyncio.sleep(pause)
                continue
            if self.replies < limits.max_replies and self.backlog <= limits.pause_bytes:
                self._set_stalled(False)
                return
            if self.backlog > limits.pause_bytes:
                self._set_stalled(True)
            self._room = room = asyncio.get_running_loop().create_future()
            try:
                await room
            finally:
                self._room = None

    def close(self, code: int, reason: str) -> None:
        """Queues the close after the frames already queued (idempotent: the first wins)."""
        if not self._closing:
            self.log.info("closing connection %d: %s", self.conn, reason)
            self._closing = True
            self._queue.append(Close(code, reason))
            self._schedule()
            self._wake_reader()

    def _flush(self) -> None:
        """Writes the queued frames, up to ``WRITE_BATCH_BYTES`` per socket write, from a
        callback at the end of the loop turn (no task: most writes never have to wait).

        ``ws.send()`` costs one ``transport.write`` (one syscall, and one TCP segment
        under TCP_NODELAY) per frame. A loop turn often queues many frames for one link
        (a commit's ``accepted``/``deliver`` frames), so they are framed here
        (:func:`text_frame_header`; through websockets' Sans-I/O protocol, as its own
        ``broadcast()`` does, if an extension were negotiated) and their bytes leave in
        one write, after anything websockets queued itself. When websockets' buffer passes
        its high-water mark (a slow reader), a close is to be sent, or the link is held,
        the writer task (:meth:`_write_later`) takes over until the queue is written:
        it applies websockets' flow control (``ws.drain()``), so at most one batch sits
        above the mark, as with ``send()``. Nothing awaits between framing and writing,
        so no other writer (keepalive pings, pongs) can interleave.
        """
        self._flushing = False
        if self._writer is not None or self._done:
            return
        loop = self._loop
        assert loop is not None
        if self._held_until > loop.time() or not self._write_now():
            self._writer = loop.create_task(self._write_later())

    def _write_now(self) -> bool:
        """Writes queued frames while websockets' buffer takes them; ``False`` when the
        writer task must go on (the buffer is above its high-water mark, or a close is
        next: :attr:`_closer`)."""
        ws = self.ws
        protocol = ws.protocol
        queue = self._queue
        try:
            while queue:
                if protocol.state is not State.OPEN:
                    # The reader sees the same close or failure and dispatches Disconnected.
                    self._done = True
                    return True
                close = self._write_batch(ws, protocol, queue)
                if close is not None:
                    self._closer = close
                    return False
                if ws.paused:
                    return False
                self._wake_reader()
        except (ConnectionClosed, OSError):
            self._done = True
        return True

    async def _write_later(self) -> None:
        """The writer while the link has to wait: the end of a hold, websockets' buffer
        draining, a close handshake. Ends once the queue is written (or the connection
        is closed); later frames go by :meth:`_flush` again."""
        ws = self.ws
        loop = asyncio.get_running_loop()
        try:
            while not self._done:
                if (held := self._held_until - loop.time()) > 0:
                    await asyncio.sleep(held)
                close, self._closer = self._closer, None
                if close is not None:
                    self._done = True
                    await ws.close(close.code, close.reason)
                    return
                await ws.drain()
                self._wake_reader()
                if self._write_now() and self._held_until <= loop.time():
                    return
        except (ConnectionClosed, OSError):
            # The reader notices the same close or failure and dispatches Disconnected.
            self._done = True
        finally:
            self._writer = None

    def _write_batch(
        self, ws: ServerConnection, protocol: Protocol, queue: list[bytes | Close]
    ) -> Close | None:
        """Frames and writes the queue's first ``WRITE_BATCH_BYTES`` of frames, in one
        socket write; returns the close they lead up to, if it came (a method of its own:
        no frame stays alive in the writer's locals while it waits)."""
        size = 0
        taken = 0
        close: Close | None = None
        # What websockets queued itself (none, unless a control frame) first.
        out = protocol.data_to_send()
        plain = not protocol.extensions  # the bridge negotiates none
        for item in queue:
            taken += 1
            if isinstance(item, Close):
                close = item
                break
            if plain:
                out += (text_frame_header(len(item)), item)
            else:
                protocol.send_text(item)
                out += protocol.data_to_send()
            size += len(item)
            if size >= WRITE_BATCH_BYTES:
                break
        del queue[:taken]
        self._queued -= size
        if out:
            # Only text frames since the last write: no end-of-stream marker.
            ws.transport.writelines(out)
        return close
