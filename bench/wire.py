"""A lean protocol-v1 peer for load generation: one asyncio.Protocol per connection.

The peer speaks WebSocket itself, in the few lines a load generator needs (RFC 6455): one
fixed upgrade request, then unfragmented text, ping and close frames. websockets'
pure-Python handshake and frame parser cost the generator more CPU per message (and per
connection) than the servers it drove. Its frames carry the mask key 0000 (§5.3 wants an
unpredictable key against proxy cache poisoning, no concern on 127.0.0.1; every server
must unmask whatever key is sent). Frames that arrive in one read are handled together
and the writes they cause leave in one ``write``.

Protocol v1 is raw JSON. A frame's type is read from its first bytes
(``{"type":"...``, which both the bridge and the relays put first); handlers registered
in ``raw_handlers`` get the bytes unparsed (counting ``accepted`` frames needs no JSON
parse), the others a parsed dict. It is a load generator, not a product surface:
agents use ``BridgeClient``.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import Awaitable, Callable
from typing import Any

from websockets.uri import parse_uri

__all__ = ["BenchFailure", "Peer", "client_frame", "first", "open_peer"]

Frame = dict[str, Any]
Handler = Callable[[Frame], None]

_KEY = "dGhlIHNhbXBsZSBub25jZQ=="
_ACCEPT = b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
"""RFC 6455 §1.3's sample key and its accept value: one key for every connection (the
key only proves that the server speaks WebSocket; nothing here is cached or proxied)."""

_dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
_loads = json.loads


class BenchFailure(RuntimeError):
    """The bridge answered something a benchmark did not expect (or went away)."""


class Peer(asyncio.Protocol):
    """One registered connection. Handlers by frame type; other replies match by rid."""

    def __init__(self, url: str, crash: asyncio.Future[None]) -> None:
        uri = parse_uri(url)
        self.request_bytes = (
            f"GET {uri.resource_name} HTTP/1.1\r\nHost: {uri.host}:{uri.port}\r\n"
            "Upgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {_KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
        self.crash = crash
        """Shared by the peers of a run: fails on the first unexpected frame or loss."""
        self.transport: asyncio.Transport | None = None
        self.handlers: dict[str, Handler] = {}
        self.raw_handlers: dict[bytes, Callable[[bytes], None]] = {}
        """Handlers by frame type that take the frame's bytes unparsed."""
        self.out: list[bytes] = []
        self.buffer = b""
        self.fast = False
        """Framing by hand (after the handshake) rather than through ``self.ws``."""
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
        transport.write(self.request_bytes)

    def data_received(self, data: bytes) -> None:
        if self.fast:
            self._frames(self.buffer + data if self.buffer else data)
        else:
            self._handshake(self.buffer + data)
        if self.after_batch is not None:
            self.after_batch()
        self.flush()

    def _handshake(self, data: bytes) -> None:
        """The server's answer to our upgrade request: 101 with the expected accept key."""
        head, found, rest = data.partition(b"\r\n\r\n")
        if not found:
            self.buffer = data
            return
        if not head.startswith(b"HTTP/1.1 101 ") or _ACCEPT not in head:
            self.fail(f"handshake failed: {head[:200]!r}")
            return
        self.fast, self.buffer = True, b""
        if not self.opened.done():
            self.opened.set_result(None)
        if rest:
            self._frames(rest)

    def _frames(self, buf: bytes) -> None:
        """Handles every complete frame in ``buf``; keeps the rest for the next read."""
        pos, end = 0, len(buf)
        while end - pos >= 2:
            first_byte, length = buf[pos], buf[pos + 1]
            head = 2
            if length & 0x80:
                self.fail("the server sent a masked frame")
                return
            if length == 126:
                if end - pos < 4:
                    break
                length, head = int.from_bytes(buf[pos + 2 : pos + 4], "big"), 4
            elif length == 127:
                if end - pos < 10:
                    break
                length, head = int.from_bytes(buf[pos + 2 : pos + 10], "big"), 10
            if end - pos < head + length:
                break
            payload = buf[pos + head : pos + head + length]
            pos += head + length
            opcode = first_byte & 0x0F
            if opcode == 1 and first_byte & 0x80:
                self._on_text(payload)
            elif opcode == 9:  # ping: answer with the same payload
                self.out.append(client_frame(payload, 0xA))
            elif opcode == 8:
                if not self.closing:
                    self.fail(f"bridge closed {self.address or 'a connection'}: {payload!r}")
                self.closing = True
                if self.transport is not None:
                    self.transport.close()
                return
            elif opcode != 0xA:
                self.fail(f"unexpected frame (first byte {first_byte:#x})")
                return
        self.buffer = buf[pos:]

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
        if self.raw_handlers and data.startswith(b'{"type":"'):
            raw = self.raw_handlers.get(data[9 : data.find(b'"', 9)])
            if raw is not None:
                raw(data)
                return
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
        self.queue_text(_dumps(frame).encode())

    def queue_text(self, text: bytes) -> None:
        """Frames JSON text made by the caller (preformatted frames: no encoder per frame)."""
        self.out.append(client_frame(text, 1))

    def send(self, frame: Frame) -> None:
        self.queue(frame)
        self.flush()

    def flush(self) -> None:
        if self.transport is None:
            return
        if self.out:
            data, self.out = self.out, []
            self.transport.write(b"".join(data))

    def close(self) -> None:
        """Starts the closing handshake (code 1000); ``lost`` resolves once the server
        has closed the connection."""
        self.closing = True
        self.out.append(client_frame((1000).to_bytes(2, "big"), 8))
        self.flush()

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
        return self.fast and not self.closing and not self.lost.done()


def client_frame(payload: bytes, opcode: int = 1) -> bytes:
    """A final client frame (RFC 6455 §5.2), masked with the key 0000 (the payload as is)."""
    n = len(payload)
    if n < 126:
        head = bytes((0x80 | opcode, 0x80 | n))
    elif n < 65536:
        head = bytes((0x80 | opcode, 0xFE)) + n.to_bytes(2, "big")
    else:
        head = bytes((0x80 | opcode, 0xFF)) + n.to_bytes(8, "big")
    return head + b"\0\0\0\0" + payload


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
    url: str,
    name: str,
    project: str,
    crash: asyncio.Future[None],
    timeout: float = 30.0,
    prepare: Callable[[Peer], object] | None = None,
) -> Peer:
    """Connects, completes the WebSocket handshake and registers with hello.

    ``prepare(peer)`` runs before the hello: frames that follow the welcome in the same
    read (a backlog's deliveries) need their handlers in place.
    """
    uri = parse_uri(url)
    loop = asyncio.get_running_loop()
    _, peer = await asyncio.wait_for(
        loop.create_connection(lambda: Peer(url, crash), uri.host, uri.port), timeout
    )
    if prepare is not None:
        prepare(peer)
    try:
        await first(peer.opened, crash, timeout)
        await peer.hello(name, project, timeout)
    except BaseException:
        peer.abort()
        raise
    return peer
