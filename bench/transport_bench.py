"""What receiving a frame costs a server in websockets and in picows (issue 13, item 6).

    python bench/transport_bench.py [--frames 200000] [--lone 20000] [--rounds 3]

The bridge reads every frame through websockets' asyncio connection (``async for raw in
ws`` in its handler task) and writes its own frames (``text_frame_header``: websockets
is not on its write path). So what switching its transport to picows would save is the
receive side. This measures exactly that, each server in its own process, alternated
round by round, the server's CPU (``/proc``) per frame:

- **websockets**: ``websockets.asyncio.server.serve``, compression off, the bridge's
  ``max_queue``, one handler task per connection iterating the connection, as the bridge;
- **picows**: ``ws_create_server``, one listener per connection, ``on_ws_frame`` (frames
  parsed in Cython; no task, no queue).

Each server only counts the text frames. The client (this process) writes masked frames
it built once (``wire.client_frame``, as the load generator does; a 290-byte ``send``
frame), so its own cost stays out of the server's way:

- **stream**: ``--frames`` frames written back to back (a busy sender: the server reads
  many frames per ``recv``), then one ``done`` the server answers with its count;
- **lone**: ``--lone`` frames one at a time, each answered with a frame of one byte that
  the server frames itself with the bridge's ``text_frame_header`` (a quiet sender: one
  frame per read and wake-up).

The saving a switch could bring the bridge is the difference per frame times the frames
it receives per message (a ``send``; an ``ack`` covers a read's deliveries), beside the
bridge's CPU per message (``compare.py``).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import datetime
import os
import signal
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from ai_connect.bridge.links import text_frame_header
from ai_connect.bridge.server import INCOMING_FRAMES
from harness import process_cpu_s
from wire import client_frame

HERE = os.path.abspath(__file__)
IMPLS = ("websockets", "picows")
FRAME = (
    '{"type":"send","rid":1,"cid":"c0000000000000000000000000000001","to":"bob (bench)",'
    '"body":"' + "x" * 200 + '"}'
).encode()


def server_frame(payload: bytes) -> bytes:
    """A text frame as the bridge writes it (its own header, no websockets)."""
    return text_frame_header(len(payload)) + payload


# --- the servers (child processes) ------------------------------------------------------


async def serve_websockets(ready: asyncio.Future[int], stop: asyncio.Event) -> None:
    from websockets.asyncio.server import ServerConnection, serve
    from websockets.exceptions import ConnectionClosed

    async def handler(ws: ServerConnection) -> None:
        count = 0
        with contextlib.suppress(ConnectionClosed):  # the client just goes
            async for raw in ws:
                count += 1
                if raw == "done":
                    ws.transport.write(server_frame(str(count).encode()))
                    count = 0
                elif raw == "?":
                    ws.transport.write(server_frame(b"!"))

    limits = {"compression": None, "max_size": 2**24, "max_queue": INCOMING_FRAMES}
    async with serve(handler, "127.0.0.1", 0, **limits) as server:
        ready.set_result(next(iter(server.sockets)).getsockname()[1])
        await stop.wait()


async def serve_picows(ready: asyncio.Future[int], stop: asyncio.Event) -> None:
    from picows import WSFrame, WSListener, WSMsgType, WSTransport, ws_create_server

    class Listener(WSListener):  # type: ignore[misc]
        count = 0

        def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
            if frame.msg_type == WSMsgType.TEXT:
                self.count += 1
                raw = frame.get_payload_as_bytes()
                if raw == b"done":
                    out = server_frame(str(self.count).encode())
                    transport.underlying_transport.write(out)
                    self.count = 0
                elif raw == b"?":
                    transport.underlying_transport.write(server_frame(b"!"))
            elif frame.msg_type == WSMsgType.CLOSE:
                transport.send_close(frame.get_close_code())
                transport.disconnect()

    server = await ws_create_server(
        lambda request: Listener(), "127.0.0.1", 0, max_frame_size=2**24
    )
    async with server:
        ready.set_result(server.sockets[0].getsockname()[1])
        await stop.wait()


async def serve(impl: str) -> None:
    loop = asyncio.get_running_loop()
    stop, ready = asyncio.Event(), loop.create_future()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    task = asyncio.create_task(
        (serve_picows if impl == "picows" else serve_websockets)(ready, stop)
    )
    print(f"port {await ready}", flush=True)
    await task


# --- the client (this process) ----------------------------------------------------------


class Server:
    """One server process and one WebSocket connection to it, spoken by hand."""

    def __init__(self, impl: str) -> None:
        self.impl = impl

    async def __aenter__(self) -> Server:
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable, HERE, "--serve", self.impl, stdout=asyncio.subprocess.PIPE
        )
        assert self.proc.stdout is not None
        line = await asyncio.wait_for(self.proc.stdout.readline(), 30)
        port = int(line.split()[1])
        self.reader, self.writer = await asyncio.open_connection("127.0.0.1", port)
        key = base64.b64encode(os.urandom(16)).decode()
        self.writer.write(
            f"GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n".encode()
        )
        head = await asyncio.wait_for(self.reader.readuntil(b"\r\n\r\n"), 10)
        if b" 101 " not in head.split(b"\r\n", 1)[0]:
            raise RuntimeError(f"{self.impl}: no upgrade: {head!r}")
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.writer.close()
        self.proc.terminate()
        await asyncio.wait_for(self.proc.wait(), 10)

    async def answer(self) -> bytes:
        head = await asyncio.wait_for(self.reader.readexactly(2), 10)
        return await asyncio.wait_for(self.reader.readexactly(head[1] & 0x7F), 10)

    async def stream(self, frames: int) -> float:
        """Server CPU seconds per frame for ``frames`` written back to back."""
        chunk = client_frame(FRAME) * 200
        before = process_cpu_s(self.proc.pid)
        for _ in range(frames // 200):
            self.writer.write(chunk)
            await self.writer.drain()
        self.writer.write(client_frame(b"done"))
        count = int(await self.answer())
        if count != frames // 200 * 200 + 1:
            raise RuntimeError(f"{self.impl}: counted {count} frames")
        return (process_cpu_s(self.proc.pid) - before) / count

    async def lone(self, frames: int) -> float:
        """Server CPU seconds per frame sent one at a time, each answered."""
        ask = client_frame(b"?")
        before = process_cpu_s(self.proc.pid)
        for _ in range(frames):
            self.writer.write(ask)
            if await self.answer() != b"!":
                raise RuntimeError(f"{self.impl}: a wrong answer")
        return (process_cpu_s(self.proc.pid) - before) / frames


async def run(args: argparse.Namespace) -> dict[tuple[str, str], list[float]]:
    results: dict[tuple[str, str], list[float]] = {}
    for round_no in range(args.rounds):
        print(f"… round {round_no + 1} of {args.rounds}", file=sys.stderr, flush=True)
        for impl in IMPLS if round_no % 2 == 0 else IMPLS[::-1]:
            async with Server(impl) as server:
                await server.stream(args.frames // 10)  # warm up
                results.setdefault((impl, "stream"), []).append(await server.stream(args.frames))
                results.setdefault((impl, "lone"), []).append(await server.lone(args.lone))
    return results


def main() -> int:
    if sys.argv[1:2] == ["--serve"]:
        asyncio.run(serve(sys.argv[2]))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=200_000)
    parser.add_argument("--lone", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    results = asyncio.run(run(args))
    when = datetime.datetime.now().astimezone().isoformat(timespec="minutes")
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"server CPU per received frame; {when}; load {load}; median of {args.rounds} rounds")
    print("| mode | websockets µs/frame | picows µs/frame | difference µs/frame |")
    print("|---|---|---|---|")
    for mode in ("stream", "lone"):
        ws, pw = (statistics.median(results[(i, mode)]) * 1e6 for i in IMPLS)
        print(f"| {mode} | {ws:.2f} | {pw:.2f} | {ws - pw:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
