"""Reference relays: the least a Python WebSocket server must do for the benchmarks' load.

    python bench/relays.py --impl websockets|picows [--host 127.0.0.1] [--port 0]

Each speaks just enough of protocol v1 for bench/wire.py's peers: ``hello`` ->
``welcome``; ``send`` -> one ``deliver`` per recipient (``*``: every other known peer)
and ``accepted`` to the sender; ``ack`` with a ``rid`` -> ``acked``; ``status``,
``ping``. Mail for a known peer that is offline waits in memory and goes out, all of it,
when the peer says hello again. Nothing is stored, validated, flow-controlled or
limited: these are the ceilings the bridge is measured against (bench/README.md), not
servers to use. The JSON is the standard library's, as in the bridge.

- ``websockets``: websockets' asyncio server, one handler task per connection; outgoing
  frames are framed by its protocol at once and leave in one write per connection and
  loop turn (as the bridge writes; no await, no queue, no flow control).
- ``picows``: picows' server (handshake and frame parsing in Cython, one listener
  object per connection, no task); outgoing frames are framed here (a server frame is a
  2-10 byte header and the payload) and leave as above, since picows' own ``send``
  makes one system call per frame.

Prints ``listening on ws://HOST:PORT`` on stderr once ready; stops on SIGTERM/SIGINT.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import signal
import sys
import time
from collections import deque
from collections.abc import Callable
from typing import Any

_dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
_loads = json.loads


class Conn:
    """One connection as the relay sees it: how to write a text frame to it."""

    __slots__ = ("address", "send_text")

    def __init__(self, send_text: Callable[[str], None]) -> None:
        self.send_text = send_text
        self.address = ""


class Relay:
    """Routing by address, per-recipient sequence numbers, in-memory mail for offline peers."""

    def __init__(self) -> None:
        self.online: dict[str, Conn] = {}
        self.tips: dict[str, int] = {}
        self.waiting: dict[str, deque[str]] = {}
        self.ids = itertools.count(1)
        self.started = time.time()

    def on_text(self, conn: Conn, data: str | bytes) -> None:
        frame: dict[str, Any] = _loads(data)
        kind = frame["type"]
        if kind == "send":
            self._send(conn, frame)
        elif kind == "ack":
            if frame.get("rid") is not None:
                conn.send_text(_dumps({"type": "acked", "rid": frame["rid"], "seq": frame["seq"]}))
        elif kind == "hello":
            self._hello(conn, frame)
        elif kind == "status":
            report = {
                "type": "status_report",
                "rid": frame["rid"],
                "address": conn.address,
                "server": "relay",
                "storage": "none",
                "uptime_s": time.time() - self.started,
                "peers_online": len(self.online),
                "peers_known": len(self.tips),
                "unread": 0,
                "tip": self.tips.get(conn.address, 0),
                "acked": 0,
            }
            conn.send_text(_dumps(report))
        elif kind == "ping":
            conn.send_text(_dumps({"type": "pong", "rid": frame.get("rid")}))
        else:
            error = {"type": "error", "rid": frame.get("rid"), "code": "unknown_type"}
            conn.send_text(_dumps(error | {"message": f"the relay has no {kind!r}"}))

    def _hello(self, conn: Conn, frame: dict[str, Any]) -> None:
        address = f"{frame['name']} ({frame['project']})"
        conn.address = address
        self.online[address] = conn
        tip = self.tips.setdefault(address, 0)
        waiting = self.waiting.pop(address, deque())
        welcome = {
            "type": "welcome",
            "rid": frame["rid"],
            "protocol": 1,
            "address": address,
            "name": frame["name"],
            "project": frame["project"],
            "server": "relay",
            "unread": len(waiting),
            "tip": tip,
            "acked": tip - len(waiting),
        }
        conn.send_text(_dumps(welcome))
        while waiting:
            conn.send_text(waiting.popleft())

    def _send(self, conn: Conn, frame: dict[str, Any]) -> None:
        sender, to = conn.address, frame["to"]
        recipients = [a for a in self.tips if a != sender] if to == "*" else [to]
        now = time.time()
        mid = f"r{next(self.ids):x}"
        online = []
        for recipient in recipients:
            seq = self.tips[recipient] = self.tips.get(recipient, 0) + 1
            text = _dumps(
                {
                    "type": "deliver",
                    "seq": seq,
                    "id": mid,
                    "from": sender,
                    "to": to,
                    "body": frame["body"],
                    "ts": now,
                }
            )
            target = self.online.get(recipient)
            if target is None:
                self.waiting.setdefault(recipient, deque()).append(text)
            else:
                online.append(recipient)
                target.send_text(text)
        accepted = {
            "type": "accepted",
            "rid": frame["rid"],
            "cid": frame["cid"],
            "id": mid,
            "ts": now,
            "to": to,
            "recipients": recipients,
            "online": online,
        }
        conn.send_text(_dumps(accepted))

    def gone(self, conn: Conn) -> None:
        if conn.address and self.online.get(conn.address) is conn:
            del self.online[conn.address]


# --- websockets -----------------------------------------------------------------------


async def serve_websockets(relay: Relay, host: str, port: int, stop: asyncio.Event) -> None:
    from websockets.asyncio.server import ServerConnection, serve
    from websockets.protocol import State

    loop = asyncio.get_running_loop()
    dirty: dict[ServerConnection, None] = {}

    def flush() -> None:
        """The frames of one loop turn leave in one write per connection (as the bridge)."""
        for ws in dirty:
            if ws.protocol.state is State.OPEN:
                ws.transport.writelines(ws.protocol.data_to_send())
        dirty.clear()

    def writer(ws: ServerConnection) -> Callable[[str], None]:
        def send_text(text: str) -> None:
            if not dirty:
                loop.call_soon(flush)
            dirty[ws] = None
            ws.protocol.send_text(text.encode())

        return send_text

    async def handler(ws: ServerConnection) -> None:
        conn = Conn(writer(ws))
        try:
            async for raw in ws:
                relay.on_text(conn, raw)
        finally:
            relay.gone(conn)

    async with serve(handler, host, port, compression=None, max_size=None) as server:
        bound = next(iter(server.sockets)).getsockname()[1]
        print(f"listening on ws://{host}:{bound}", file=sys.stderr, flush=True)
        await stop.wait()


# --- picows ---------------------------------------------------------------------------


async def serve_picows(relay: Relay, host: str, port: int, stop: asyncio.Event) -> None:
    from picows import WSFrame, WSListener, WSMsgType, WSTransport, ws_create_server

    loop = asyncio.get_running_loop()
    dirty: dict[WSTransport, list[bytes]] = {}

    def flush() -> None:
        """The frames of one loop turn leave in one write per connection (as the bridge)."""
        for transport, frames in dirty.items():
            if not transport.is_disconnected:
                transport.underlying_transport.writelines(frames)
        dirty.clear()

    def writer(transport: WSTransport) -> Callable[[str], None]:
        def send_text(text: str) -> None:
            if not dirty:
                loop.call_soon(flush)
            payload = text.encode()
            n = len(payload)  # a server frame is not masked (RFC 6455 §5.2)
            if n < 126:
                head = bytes((0x81, n))
            elif n < 65536:
                head = b"\x81\x7e" + n.to_bytes(2, "big")
            else:
                head = b"\x81\x7f" + n.to_bytes(8, "big")
            dirty.setdefault(transport, []).append(head + payload)

        return send_text

    class Listener(WSListener):  # type: ignore[misc]
        def on_ws_connected(self, transport: WSTransport) -> None:
            self.conn = Conn(writer(transport))

        def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
            if frame.msg_type == WSMsgType.TEXT:
                relay.on_text(self.conn, frame.get_payload_as_bytes())
            elif frame.msg_type == WSMsgType.CLOSE:
                transport.send_close(frame.get_close_code())
                transport.disconnect()

        def on_ws_disconnected(self, transport: WSTransport) -> None:
            relay.gone(self.conn)

    server = await ws_create_server(lambda request: Listener(), host, port, max_frame_size=2**24)
    async with server:
        bound = server.sockets[0].getsockname()[1]
        print(f"listening on ws://{host}:{bound}", file=sys.stderr, flush=True)
        await stop.wait()


async def main_async(impl: str, host: str, port: int) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    serve = serve_picows if impl == "picows" else serve_websockets
    await serve(Relay(), host, port, stop)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--impl", choices=("websockets", "picows"), default="websockets")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    asyncio.run(main_async(args.impl, args.host, args.port))
    return 0


if __name__ == "__main__":
    sys.exit(main())
