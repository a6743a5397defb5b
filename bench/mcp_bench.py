"""Benchmarks of ``ai-connect mcp`` over Streamable HTTP (issue 3, point 5).

    python bench/mcp_bench.py [--samples N] [--store sqlite|memory] [--mode legacy|auto]
                              [--markdown]

One bridge process (``python -m ai_connect bridge --port 0``, fresh database) and two MCP
server processes (``python -m ai_connect mcp --transport http --port 0``) named alice
and bob, all on 127.0.0.1. This process drives them, one call at a time:

- with the official MCP client (``mcp.Client``, one Streamable HTTP session per server):
  ``peer_list`` and ``peer_send`` (200 B, alice to bob) round trips, and the wake
  latency: bob's client has a ``peer_wait`` pending (confirmed by its first progress
  notification), then alice's client issues ``peer_send``; measured until bob's client
  holds the ``peer_wait`` result;
- with a lean HTTP client (a fresh loopback connection per call, timed from writing the
  POST to reading the result event): the same two calls, i.e. the server's own share;
- for reference, the official client against a bare SDK server whose tool does nothing
  (``--noop-server``): the floor of one tools/call with this SDK on this machine.

Every wait is bounded. Targets: peer_send <= 2 ms, peer_list <= 2 ms, wake <= 10 ms p50.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import os
import re
import statistics
import sys
import tempfile
import time
from collections import deque
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import BridgeOptions, BridgeProcess
from mcp import Client

_LISTENING = re.compile(r"listening on (http://\S+)/mcp ")
HERE = os.path.abspath(__file__)
PROJECT = "bench"
BODY = "x" * 200
TARGETS = {
    "peer_list": "<= 2 ms",
    "peer_send": "<= 2 ms",
    "wake: alice's peer_send issued -> bob's peer_wait result": "<= 10 ms p50",
}


class ServerProcess:
    """A subprocess that prints ``listening on http://HOST:PORT/mcp `` on stderr."""

    def __init__(self, *args: str) -> None:
        self.args = args
        self.url = ""
        self.stderr: deque[str] = deque(maxlen=50)
        self.proc: asyncio.subprocess.Process | None = None
        self._reader: asyncio.Task[None] | None = None
        self._tmp = tempfile.TemporaryDirectory(prefix="ai-connect-mcp-bench-")

    @classmethod
    def mcp(cls, bridge_url: str, name: str) -> ServerProcess:
        return cls(
            "-m", "ai_connect", "mcp", "--transport", "http", "--port", "0",
            "--bridge", bridge_url, "--name", name, "--project", PROJECT,
            "--progress-interval", "0.05", "--log-level", "warning",
        )  # fmt: skip

    async def __aenter__(self) -> ServerProcess:
        env = {k: v for k, v in os.environ.items() if not k.startswith("AI_CONNECT_")}
        env |= {"PYTHONUNBUFFERED": "1", "AI_CONNECT_CONFIG": f"{self._tmp.name}/none.yaml"}
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable,
            *self.args,
            cwd=self._tmp.name,
            env=env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        ready: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._reader = asyncio.create_task(self._read(ready))
        self.url = await asyncio.wait_for(ready, 30) + "/mcp"
        return self

    async def _read(self, ready: asyncio.Future[str]) -> None:
        assert self.proc is not None and self.proc.stderr is not None
        while line := await self.proc.stderr.readline():
            text = line.decode(errors="replace").rstrip()
            self.stderr.append(text)
            if (match := _LISTENING.search(text)) and not ready.done():
                ready.set_result(match.group(1))
        if not ready.done():
            ready.set_exception(RuntimeError("server exited:\n" + "\n".join(self.stderr)))

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.terminate()
            try:
                await asyncio.wait_for(self.proc.wait(), 15)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()
        if self._reader is not None:
            await asyncio.wait_for(self._reader, 5)
        self._tmp.cleanup()


# --- measuring ---------------------------------------------------------------------------


def summary(samples: list[float]) -> dict[str, float]:
    """n, p50, p95, p99, max and mean of samples in seconds, as milliseconds."""
    ordered = sorted(samples)

    def pct(p: float) -> float:
        return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))] * 1000

    return {
        "n": len(ordered),
        "p50": pct(50),
        "p95": pct(95),
        "p99": pct(99),
        "max": ordered[-1] * 1000,
        "mean": statistics.fmean(ordered) * 1000,
    }


async def timed(call: Callable[[], Awaitable[Any]], samples: int, warm: int) -> list[float]:
    out = []
    for n in range(warm + samples):
        start = time.perf_counter()
        result = await call()
        elapsed = time.perf_counter() - start
        if getattr(result, "is_error", False):
            raise RuntimeError(f"tool error: {result}")
        if n >= warm:
            out.append(elapsed)
    return out


async def wake(a: Client, b: Client, samples: int, warm: int) -> tuple[list[float], list[float]]:
    """Per round: (alice's send issued -> bob's wait result, bob's result - alice's)."""
    from_issue, after_sender = [], []
    for n in range(warm + samples):
        pending = asyncio.Event()
        woken: asyncio.Future[float] = asyncio.get_running_loop().create_future()

        async def on_progress(done: float, total: float | None, note: str | None) -> None:
            pending.set()  # noqa: B023 (the event of this round, awaited below)

        waiter = asyncio.create_task(
            b.call_tool("peer_wait", {"timeout_s": 30}, progress_callback=on_progress)
        )
        waiter.add_done_callback(lambda _, f=woken: f.set_result(time.perf_counter()))
        await asyncio.wait_for(pending.wait(), 10)
        issued = time.perf_counter()
        sent = await a.call_tool("peer_send", {"to": f"bob ({PROJECT})", "message": BODY})
        sent_at = time.perf_counter()
        result = await asyncio.wait_for(waiter, 10)
        woke_at = await woken
        if sent.is_error or result.is_error or not (result.structured_content or {})["messages"]:
            raise RuntimeError(f"wake round {n} failed: {sent} {result}")
        if n >= warm:
            from_issue.append(woke_at - issued)
            after_sender.append(woke_at - sent_at)
    return from_issue, after_sender


async def drain(b: Client) -> None:
    """Reads bob's mail until none is left."""
    for _ in range(1000):
        result = await b.call_tool("peer_read", {"limit": 500})
        if not (result.structured_content or {}).get("messages"):
            return
    raise RuntimeError("bob's inbox does not empty")


class LeanClient:
    """Streamable HTTP with nothing else: initialize once, then one connection per call,
    timed from writing the POST until its result event has arrived."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self.host, self.port, self.path = parts.hostname or "", parts.port or 80, parts.path
        self.headers = ""
        self.next_id = 1

    def _request(self, payload: dict[str, Any]) -> bytes:
        body = json.dumps(payload).encode()
        head = (
            f"POST {self.path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
            "Accept: application/json, text/event-stream\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n{self.headers}\r\n"
        )
        return head.encode() + body

    async def _exchange(self, payload: dict[str, Any]) -> tuple[float, bytes]:
        reader, writer = await asyncio.open_connection(self.host, self.port)
        try:
            start = time.perf_counter()
            writer.write(self._request(payload))
            data = b""
            while not (b'"result"' in data and data.endswith(b"\r\n\r\n")):
                chunk = await asyncio.wait_for(reader.read(65536), 10)
                if not chunk:
                    raise RuntimeError(f"connection closed: {data[-500:]!r}")
                data += chunk
            return time.perf_counter() - start, data
        finally:
            writer.close()

    async def open(self) -> None:
        hello = {"protocolVersion": "2025-11-25", "capabilities": {}}
        hello["clientInfo"] = {"name": "lean", "version": "0"}
        _, data = await self._exchange(
            {"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": hello}
        )
        session = re.search(rb"mcp-session-id: (\w+)", data, re.IGNORECASE)
        assert session is not None, data
        self.headers = (
            f"mcp-session-id: {session.group(1).decode()}\r\nmcp-protocol-version: 2025-11-25\r\n"
        )
        reader, writer = await asyncio.open_connection(self.host, self.port)
        writer.write(self._request({"jsonrpc": "2.0", "method": "notifications/initialized"}))
        await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
        writer.close()

    async def call(self, tool: str, arguments: dict[str, Any]) -> float:
        self.next_id += 1
        params = {"name": tool, "arguments": arguments}
        elapsed, data = await self._exchange(
            {"jsonrpc": "2.0", "id": self.next_id, "method": "tools/call", "params": params}
        )
        if b'"isError":true' in data:
            raise RuntimeError(f"tool error: {data[-500:]!r}")
        return elapsed


async def lean(url: str, tool: str, arguments: dict[str, Any], samples: int) -> list[float]:
    client = LeanClient(url)
    await client.open()
    out = [await client.call(tool, arguments) for _ in range(samples + samples // 10)]
    return out[samples // 10 :]


# --- the run ------------------------------------------------------------------------------


def fmt(row: dict[str, float]) -> str:
    return (
        f"n={row['n']:.0f} p50 {row['p50']:.2f} ms  p95 {row['p95']:.2f}  "
        f"p99 {row['p99']:.2f}  max {row['max']:.2f}  mean {row['mean']:.2f}"
    )


async def run(args: argparse.Namespace) -> dict[str, dict[str, float]]:
    rows: dict[str, dict[str, float]] = {}

    def record(name: str, samples: list[float]) -> None:
        rows[name] = summary(samples)
        print(f"{name}: {fmt(rows[name])}", file=sys.stderr, flush=True)

    n, warm = args.samples, max(10, args.samples // 10)
    send = {"to": f"bob ({PROJECT})", "message": BODY}
    async with (
        BridgeProcess(BridgeOptions(store=args.store), "mcp") as bridge,
        ServerProcess.mcp(bridge.url, "alice") as alice,
        ServerProcess.mcp(bridge.url, "bob") as bob,
        Client(alice.url, mode=args.mode) as a,
        Client(bob.url, mode=args.mode) as b,
    ):
        for client in (a, b):
            await client.call_tool("peer_status", {})
        record("peer_list", await timed(lambda: a.call_tool("peer_list", {}), n, warm))
        rounds = max(20, n // 5)
        from_issue, after_sender = await wake(a, b, rounds, max(5, rounds // 10))
        record("wake: alice's peer_send issued -> bob's peer_wait result", from_issue)
        record("wake: bob's result minus alice's result (negative: bob first)", after_sender)
        record("peer_send", await timed(lambda: a.call_tool("peer_send", send), n, warm))
        record(
            "peer_list, lean HTTP client (server's share)",
            await lean(alice.url, "peer_list", {}, n),
        )
        record(
            "peer_send, lean HTTP client (server's share)",
            await lean(alice.url, "peer_send", send, n),
        )
        await drain(b)
    async with (
        ServerProcess(HERE, "--noop-server") as noop,
        Client(noop.url, mode=args.mode) as c,
    ):
        record(
            "no-op tool on a bare SDK server (floor)",
            await timed(lambda: c.call_tool("noop", {}), n, warm),
        )
    return rows


def noop_server() -> None:
    """A bare SDK server with one tool that does nothing (the floor of one tools/call)."""
    import socket
    from collections.abc import AsyncIterator
    from contextlib import asynccontextmanager

    import mcp.types as types
    import uvicorn
    from mcp.server.lowlevel.server import Server
    from mcp.server.streamable_http_manager import (
        StreamableHTTPASGIApp,
        StreamableHTTPSessionManager,
    )
    from starlette.applications import Starlette
    from starlette.routing import Route

    async def list_tools(ctx: Any, params: Any) -> types.ListToolsResult:
        return types.ListToolsResult(
            tools=[types.Tool(name="noop", input_schema={"type": "object"})]
        )

    async def call_tool(ctx: Any, params: Any) -> types.CallToolResult:
        return types.CallToolResult(content=[types.TextContent(type="text", text="ok")])

    manager = StreamableHTTPSessionManager(
        app=Server("noop", on_list_tools=list_tools, on_call_tool=call_tool)
    )
    sock = socket.create_server(("127.0.0.1", 0))

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with manager.run():
            port = sock.getsockname()[1]
            print(f"listening on http://127.0.0.1:{port}/mcp (no-op)", file=sys.stderr, flush=True)
            yield

    app = Starlette(
        routes=[Route("/mcp", endpoint=StreamableHTTPASGIApp(manager))], lifespan=lifespan
    )
    config = uvicorn.Config(app, log_config=None, access_log=False)
    asyncio.run(uvicorn.Server(config).serve(sockets=[sock]))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=500)
    parser.add_argument("--store", choices=("sqlite", "memory"), default="sqlite")
    parser.add_argument("--mode", choices=("legacy", "auto"), default="legacy")
    parser.add_argument("--markdown", action="store_true")
    parser.add_argument("--noop-server", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.noop_server:
        noop_server()
        return 0
    started = time.monotonic()
    rows = asyncio.run(asyncio.wait_for(run(args), 900))
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    when = datetime.datetime.now().astimezone().isoformat(timespec="minutes")
    print(
        f"ai-connect mcp over Streamable HTTP ({args.mode} session), bridge store {args.store}, "
        f"{when}, load {load}, {os.cpu_count()} CPUs, {time.monotonic() - started:.0f} s"
    )
    if args.markdown:
        print("\n| round trip | n | p50 ms | p95 ms | p99 ms | max ms | target |")
        print("|---|---|---|---|---|---|---|")
        for name, r in rows.items():
            print(
                f"| {name} | {r['n']:.0f} | {r['p50']:.2f} | {r['p95']:.2f} | {r['p99']:.2f} "
                f"| {r['max']:.2f} | {TARGETS.get(name, '')} |"
            )
    else:
        for name, r in rows.items():
            print(f"{name:62} {fmt(r)}  {TARGETS.get(name, '')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
