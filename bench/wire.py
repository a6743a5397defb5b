"""A lean protocol-v1 peer for load generation: one asyncio.Protocol per connection.

It speaks WebSocket through websockets' Sans-I/O ``ClientProtocol`` (correct framing and
masking, no task or future per frame) and protocol v1 as raw JSON. Frames that arrive in
one read are handled together and the writes they cause leave in one ``write``; that is
what lets a single Python process drive the bridge at tens of thousands of frames per
second. It is a load generator, not a product surface: agents use ``BridgeClient``.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import Awaitable, Callable
from typing import Any

from websockets.client import ClientProtocol
from websockets.frames import Opcode
from websockets.http11 import Response
from websockets.protocol import State
from websockets.uri import parse_uri

__all__ = ["BenchFailure", "Peer", "first", "open_peer"]

Frame = dict[str, Any]
Handler = Callable[[Frame], None]

_dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
_loads = json.loads


class BenchFailure(RuntimeError):
    """The bridge answered something a benchmark did not expect (or went away)."""


class Peer(asyncio.Protocol):
    """One registered connection. Handlers by frame type; other replies match by rid."""

    def __init__(self, url: str, crash: asyncio.Future[None]) -> None:
        self.ws = ClientProtocol(parse_uri(url), max_size=None)
        self.crash = crash
        """Shared by the peers of a run: fails on the first unexpected frame or loss."""
        self.transport: asyncio.Transport | None = None
        self.handlers: dict[str, Handler] = {}
        self.after_batch: Callable[[], None] | None = None
        """Called after all frames of one read were handled (batch writes, acks)."""
        self.pending: dict[Any, asyncio.Future[Frame]] = {}
        self.address = ""
        self.closing = False
        self._rids = itertools.count(1)
        loop = asyncio.get_running_loop()
        self.opened: asyncio.Future[None] = loop.create_future()
        self.lost: asyncio.Future[None] = loop.create_future()

    # --- asyncio.Protocol -------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.ws.send_request(self.ws.connect())
        self.flush()

    def data_received(self, data: bytes) -> None:
        ws = self.ws
        ws.receive_data(data)
        for event in ws.events_received():
            if isinstance(event, Response):
                if ws.handshake_exc is not None:
                    self.fail(f"handshake failed: {ws.handshake_exc}")
                elif not self.opened.done():
                    self.opened.set_result(None)
            elif event.opcode is Opcode.TEXT:
                self._on_text(event.data)
            elif event.opcode is Opcode.CLOSE and not self.closing:
                self.fail(f"bridge closed {self.address or 'a connection'}: {event}")
        if self.after_batch is not None:
            self.after_batch()
        self.flush()

    def eof_received(self) -> bool | None:
        self.ws.receive_eof()
        self.flush()
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closing:
            self.fail(f"connection of {self.address or '?'} lost ({exc or 'EOF'})")
        if not self.lost.done():
            self.lost.set_result(None)
        for future in self.pending.values():
            if not future.done():
                future.set_exception(BenchFailure("connection lost"))

    # --- frames -----------------------------------------------------------------------

    def _on_text(self, data: bytes) -> None:
        frame: Frame = _loads(data)
        kind = frame["type"]
        handler = self.handlers.get(kind)
        if handler is not None:
            handler(frame)
            return
        future = self.pending.pop(frame.get("rid"), None)
        if future is None:
            if kind not in ("presence", "pong"):
                self.fail(f"{self.address}: unexpected frame {frame}")
        elif kind == "error":
            future.set_exception(BenchFailure(f"{self.address}: {frame}"))
        else:
            future.set_result(frame)

    def fail(self, why: str) -> None:
        """Fails the whole run (the shared ``crash`` future) with ``why``."""
        if not self.crash.done():
            self.crash.set_exception(BenchFailure(why))

    def queue(self, frame: Frame) -> None:
        """Frames the frame; it leaves on the next :meth:`flush` (batched writes)."""
        self.ws.send_text(_dumps(frame).encode())

    def send(self, frame: Frame) -> None:
        self.queue(frame)
        self.flush()

    def flush(self) -> None:
        data = self.ws.data_to_send()
        if not data or self.transport is None:
            return
        if data[-1] == b"":  # SEND_EOF: the protocol wants the TCP stream half-closed
            self.transport.write(b"".join(data[:-1]))
            if self.transport.can_write_eof():
                self.transport.write_eof()
        else:
            self.transport.write(b"".join(data))

    def request(self, frame: Frame) -> asyncio.Future[Frame]:
        """Sends a frame with a fresh rid; the future gets the reply with that rid."""
        rid = next(self._rids)
        frame["rid"] = rid
        future: asyncio.Future[Frame] = asyncio.get_running_loop().create_future()
        self.pending[rid] = future
        self.send(frame)
        return future

    async def hello(self, name: str, project: str, timeout: float) -> Frame:
        frame = {
            "type": "hello",
            "protocol": 1,
            "name": name,
            "project": project,
            "client": {"kind": "bench", "version": "1"},
        }
        welcome = await first(self.request(frame), self.crash, timeout)
        self.address = welcome["address"]
        return welcome

    def abort(self) -> None:
        """Drops the TCP connection at once (the end of a run; no close handshake)."""
        self.closing = True
        if self.transport is not None:
            self.transport.abort()

    @property
    def open(self) -> bool:
        return self.ws.state is State.OPEN


async def first(aw: Awaitable[Any], crash: asyncio.Future[None], timeout: float) -> Any:
    """Awaits ``aw``; raises at once if the run crashed, ``TimeoutError`` after ``timeout``."""
    task = asyncio.ensure_future(aw)
    done, _ = await asyncio.wait({task, crash}, timeout=timeout, return_when="FIRST_COMPLETED")
    if crash in done:
        task.cancel()
        crash.result()
    if task not in done:
        task.cancel()
        raise TimeoutError(f"no answer within {timeout:g} s")
    return task.result()


async def open_peer(
    url: str, name: str, project: str, crash: asyncio.Future[None], timeout: float = 30.0
) -> Peer:
    """Connects, completes the WebSocket handshake and registers with hello."""
    uri = parse_uri(url)
    loop = asyncio.get_running_loop()
    _, peer = await asyncio.wait_for(
        loop.create_connection(lambda: Peer(url, crash), uri.host, uri.port), timeout
    )
    try:
        await first(peer.opened, crash, timeout)
        await peer.hello(name, project, timeout)
    except BaseException:
        peer.abort()
        raise
    return peer
