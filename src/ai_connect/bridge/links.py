"""One connection's way out: a queue of encoded frames, at most one close, and the task
that writes them.

``BridgeServer`` (``bridge/server.py``) reads each connection and carries out the
router's actions; every frame it sends and every close it decides goes through that
connection's :class:`Link`. The link never blocks the server: ``send`` and ``close``
only queue, and :meth:`Link.run` (one task per connection) writes. A peer that stops
reading is closed once ``max_queued`` frames wait for it (docs/protocol.md §5.1),
rather than growing the bridge's memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from dataclasses import dataclass

from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed
from websockets.protocol import State

from ai_connect.bridge.core import CLOSE_POLICY

__all__ = ["WRITE_BATCH_BYTES", "Close", "Link"]

log = logging.getLogger("ai_connect.bridge")

WRITE_BATCH_BYTES = 64 * 1024
"""Bytes of frames written to one link at once; then websockets' flow control applies."""


@dataclass(frozen=True, slots=True)
class Close:
    """The last item of a link's queue: close with ``code`` and ``reason``."""

    code: int
    reason: str


class Link:
    """The writing side of one WebSocket connection.

    ``send(text)`` queues a frame, ``close(code, reason)`` queues the close after the
    frames already queued; nothing is queued after a close. ``throttle`` sets ``pause``
    for the server's reader (rate limit, protocol §5.1); the link only keeps it.
    """

    def __init__(self, ws: ServerConnection, conn: int, max_queued: int) -> None:
        self.ws = ws
        self.conn = conn
        remote = ws.remote_address
        self.where = f"{remote[0]}:{remote[1]}" if isinstance(remote, tuple) else "?"
        """``host:port`` of the peer (``?`` for a socket handed in without an address)."""
        self.log = logging.LoggerAdapter(log, {"conn": conn, "remote": self.where})
        """The bridge's logger, carrying this connection's id and remote address."""
        self.max_queued = max_queued
        self.pause = 0.0
        """Seconds to wait before reading its next frame (rate limit, protocol §5.1)."""
        self._queue: deque[str | Close] = deque()
        self._ready = asyncio.Event()
        self._closing = False
        self._writer: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Starts the writer task (:meth:`run`)."""
        self._writer = asyncio.create_task(self.run())

    async def stop(self) -> None:
        """Stops the writer task; whatever is still queued is dropped."""
        if self._writer is not None:
            self._writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._writer

    @property
    def closing(self) -> bool:
        """A close is queued (or written): later frames are dropped."""
        return self._closing

    def send(self, text: str) -> None:
        """Queues one encoded frame; a link too far behind is closed instead (1008)."""
        if self._closing:
            return
        if len(self._queue) >= self.max_queued:
            self.close(CLOSE_POLICY, "not reading its frames")
            return
        self._queue.append(text)
        self._ready.set()

    def throttle(self, seconds: float) -> None:
        """Reads from this link wait at least ``seconds`` before the next frame."""
        self.pause = max(self.pause, seconds)

    def close(self, code: int, reason: str) -> None:
        """Queues the close after the frames already queued (idempotent: the first wins)."""
        if not self._closing:
            self.log.info("closing connection %d: %s", self.conn, reason)
            self._closing = True
            self._queue.append(Close(code, reason))
            self._ready.set()

    async def run(self) -> None:
        """Writes the queued frames, up to ``WRITE_BATCH_BYTES`` per socket write.

        ``ws.send()`` costs one ``transport.write`` (one syscall, and one TCP segment
        under TCP_NODELAY) per frame. A loop turn often queues many frames for one link
        (a commit's ``accepted``/``deliver`` frames), so they are framed one by one
        through websockets' Sans-I/O protocol, as its own ``broadcast()`` does, and their
        bytes leave in one write. ``ws.drain()`` then applies websockets' flow control:
        it waits while the transport's buffer is above its high-water mark, so at most
        one batch sits above it, as with ``send()``. Nothing here awaits between framing
        and writing, so no other writer (keepalive pings, pongs) can interleave.

        Returns after writing a close, or when the connection is no longer open (the
        server's reader sees that close or failure and reports it).
        """
        ws = self.ws
        protocol = ws.protocol
        queue = self._queue
        try:
            while True:
                await self._ready.wait()
                self._ready.clear()
                while queue:
                    if protocol.state is not State.OPEN:
                        return
                    close: Close | None = None
                    size = 0
                    while queue and size < WRITE_BATCH_BYTES:
                        item = queue.popleft()
                        if isinstance(item, Close):
                            close = item
                            break
                        data = item.encode()
                        protocol.send_text(data)
                        size += len(data)
                    if size:
                        # Only text frames since the last write: no end-of-stream marker.
                        ws.transport.writelines(protocol.data_to_send())
                        await ws.drain()
                    if close is not None:
                        await ws.close(close.code, close.reason)
                        return
        except (ConnectionClosed, OSError):
            # The reader notices the same close or failure and dispatches Disconnected.
            pass
