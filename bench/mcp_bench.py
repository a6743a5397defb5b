"""Benchmarks of ``ai-connect mcp``: every transport, p50/p99 (issues 3 and 13).

    python bench/mcp_bench.py [--samples N] [--rounds 3] [--store sqlite|memory]
                              [--markdown]

One bridge process (``python -m ai_connect bridge --port 0``, fresh database) and MCP
server processes on 127.0.0.1: ``alice`` and ``bob`` over HTTP
(``ai-connect mcp --transport http --port 0``), ``alice-nagle`` (the same, but its
listener made as before issue 13's fix: accepted connections keep Nagle's algorithm on),
and ``carol`` over stdio. This process drives them one call at a time, ``peer_list``
and ``peer_send`` (200 B, to bob) per transport:

- Streamable HTTP on a kept-alive connection, with the official client (``mcp.Client``;
  2025 handshake, what Claude Code, Codex, Gemini CLI, Cursor and VS Code do today, and
  the 2026 session) and with an httpx client (httpx2, one kept-alive connection, JSON-RPC
  and nothing else). The same against ``alice-nagle``: the before/after of TCP_NODELAY
  (issue 13, item 1);
- Streamable HTTP on a kept-alive connection with no client library in the way (a raw
  socket, h11 framing the HTTP): the server's share, as a fast client sees it;
- Streamable HTTP with a fresh connection per call (the same raw client, its connection's
  set-up timed too);
- legacy SSE (``/sse``, the official client);
- stdio (the official client spawning ``ai-connect mcp``);
- the wake: bob's client has a ``peer_wait`` pending (confirmed by its first progress
  notification), alice's client issues ``peer_send``; until bob's client holds the
  result;
- the floor: the official client against a bare SDK server whose tool does nothing;
- the official TypeScript SDK's client (``bench/ts_client.mjs`` in node: what Claude Code,
  Gemini CLI, VS Code and Cursor build on) on Streamable HTTP kept alive and on SSE, its
  wake and its floor; the SDK is installed with npm into ``.cache/bench/ts-mcp`` the first
  time (without node and npm, or when npm cannot install it, those rows are left out,
  and the run says why).

Samples are taken in ``--rounds`` interleaved rounds (each row takes its share in turn),
so a busy moment on the shared machine hits every row alike. Every wait is bounded.
Targets (issue 13): tool call p50 <= 2 ms kept-alive, <= 3 ms over SSE; wake p50 <= 5 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime
import functools
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import deque
from collections.abc import Awaitable, Callable
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from mcp.client.sse import sse_client

from harness import BridgeOptions, BridgeProcess, OtherLoad, process_cpu_s
from mcp import Client, StdioServerParameters

_LISTENING = re.compile(r"listening on (http://\S+)/mcp ")
HERE = os.path.abspath(__file__)
PROJECT = "bench"
BODY = "x" * 200
SEND = {"to": f"bob ({PROJECT})", "message": BODY}
WAKE = "wake: alice's peer_send issued -> bob's peer_wait result (SDK, Streamable HTTP)"
TS_SDK = "@modelcontextprotocol/sdk@1.32.2"
TS_WAKE = WAKE.replace("(SDK, ", "(TypeScript SDK, ")
TARGETS = {
    "Streamable HTTP kept-alive, SDK client": "<= 2 ms",
    "legacy SSE, SDK client": "<= 3 ms",
    WAKE: "<= 5 ms p50",
    "Streamable HTTP kept-alive, TypeScript SDK client": "<= 2 ms",
    "legacy SSE, TypeScript SDK client": "<= 3 ms",
    TS_WAKE: "<= 5 ms p50",
}


def child_with(marker: str) -> int:
    """The pid of a process started by this one whose command line holds ``marker``."""
    me = os.getpid()
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", encoding="utf-8") as f:
                parent = int(f.read().rsplit(")", 1)[1].split()[1])
            with open(f"/proc/{name}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
        except (OSError, ValueError):
            continue
        if parent == me and marker in cmd:
            return int(name)
    raise RuntimeError(f"no child process with {marker!r}")


def mcp_args(bridge_url: str, name: str, *more: str) -> list[str]:
    return [
        "mcp", *more, "--bridge", bridge_url, "--name", name, "--project", PROJECT,
        "--progress-interval", "0.05", "--log-level", "warning",
    ]  # fmt: skip


def clean_env(tmp: str) -> dict[str, str]:
    """Our environment without the user's ai-connect settings and state (the shown ids
    of every run would pile up in the user's ``client.sqlite3``)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AI_CONNECT_")}
    env |= {"PYTHONUNBUFFERED": "1", "AI_CONNECT_CONFIG": f"{tmp}/none.yaml"}
    return env | {"XDG_STATE_HOME": f"{tmp}/state"}


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
    def mcp(cls, bridge_url: str, name: str, *, nagle: bool = False) -> ServerProcess:
        """``ai-connect mcp --transport http``; ``nagle``: with the listener as it was
        before issue 13 (``--nagle-server`` below)."""
        start = (HERE, "--nagle-server") if nagle else ("-m", "ai_connect")
        return cls(*start, *mcp_args(bridge_url, name, "--transport", "http", "--port", "0"))

    async def __aenter__(self) -> ServerProcess:
        env = clean_env(self._tmp.name)
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

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

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


async def timed(call: Callable[[], Awaitable[Any]], samples: int) -> list[float]:
    out = []
    for _ in range(samples):
        start = time.perf_counter()
        result = await call()
        elapsed = time.perf_counter() - start
        if getattr(result, "is_error", False):
            raise RuntimeError(f"tool error: {result}")
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


class KeptAliveClient:
    """Streamable HTTP over one kept-alive httpx2 connection, JSON-RPC and nothing else."""

    def __init__(self, url: str) -> None:
        import httpx2

        self.url = url
        self.http = httpx2.AsyncClient(limits=httpx2.Limits(max_connections=1), timeout=10)
        self.headers = {
            "accept": "application/json, text/event-stream",
            "content-type": "application/json",
        }
        self.next_id = 0

    async def post(self, payload: dict[str, Any]) -> bytes:
        response = await self.http.post(self.url, headers=self.headers, json=payload)
        response.raise_for_status()
        if "mcp-session-id" in response.headers:
            self.headers["mcp-session-id"] = response.headers["mcp-session-id"]
        return response.content

    async def open(self) -> None:
        hello = {"protocolVersion": "2025-11-25", "capabilities": {}}
        hello["clientInfo"] = {"name": "lean", "version": "0"}
        await self.post({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": hello})
        self.headers["mcp-protocol-version"] = "2025-11-25"
        await self.post({"jsonrpc": "2.0", "method": "notifications/initialized"})

    async def call(self, tool: str, arguments: dict[str, Any]) -> None:
        self.next_id += 1
        params = {"name": tool, "arguments": arguments}
        data = await self.post(
            {"jsonrpc": "2.0", "id": self.next_id, "method": "tools/call", "params": params}
        )
        if b'"result"' not in data or b'"isError":true' in data:
            raise RuntimeError(f"tool call failed: {data[-500:]!r}")

    async def close(self) -> None:
        await self.http.aclose()


class RawClient:
    """Streamable HTTP with no client library in the way (h11 frames the HTTP, JSON-RPC
    and nothing else): over one kept-alive connection, the server's share as a fast client
    (Node's, Rust's) sees it; with ``fresh``, a new connection for every request."""

    def __init__(self, url: str, *, fresh: bool = False) -> None:
        import h11

        self.fresh = fresh
        parts = urlsplit(url)
        self.host, self.port, self.path = parts.hostname or "", parts.port or 80, parts.path
        self.headers = [
            ("host", f"{self.host}:{self.port}"),
            ("accept", "application/json, text/event-stream"),
            ("content-type", "application/json"),
        ]
        self.http = h11.Connection(h11.CLIENT)
        self.next_id = 0
        self.stream: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    async def post(self, payload: dict[str, Any]) -> tuple[Any, bytes]:
        import h11

        if self.fresh:
            await self.close()
        if self.stream is None or self.stream[0].at_eof():  # uvicorn closes one idle 5 s
            self.stream = await asyncio.open_connection(self.host, self.port)
            self.http = h11.Connection(h11.CLIENT)
        reader, writer = self.stream
        if self.http.our_state is h11.DONE:
            self.http.start_next_cycle()
        body = json.dumps(payload).encode()
        headers = [*self.headers, ("content-length", str(len(body)))]
        writer.write(
            self.http.send(h11.Request(method="POST", target=self.path, headers=headers))
            + self.http.send(h11.Data(data=body))
            + self.http.send(h11.EndOfMessage())
        )
        response, data = None, bytearray()
        while True:
            event = self.http.next_event()
            if event is h11.NEED_DATA:
                chunk = await asyncio.wait_for(reader.read(65536), 10)
                if not chunk:
                    raise RuntimeError(f"connection closed: {bytes(data[-500:])!r}")
                self.http.receive_data(chunk)
            elif isinstance(event, h11.Response):
                response = event
            elif isinstance(event, h11.Data):
                data += event.data
            elif isinstance(event, h11.EndOfMessage):
                return response, bytes(data)

    async def open(self) -> None:
        hello = {"protocolVersion": "2025-11-25", "capabilities": {}}
        hello["clientInfo"] = {"name": "raw", "version": "0"}
        response, _ = await self.post(
            {"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": hello}
        )
        session = dict(response.headers)[b"mcp-session-id"].decode()
        self.headers += [("mcp-session-id", session), ("mcp-protocol-version", "2025-11-25")]
        await self.post({"jsonrpc": "2.0", "method": "notifications/initialized"})

    async def call(self, tool: str, arguments: dict[str, Any]) -> None:
        self.next_id += 1
        params = {"name": tool, "arguments": arguments}
        _, data = await self.post(
            {"jsonrpc": "2.0", "id": self.next_id, "method": "tools/call", "params": params}
        )
        if b'"result"' not in data or b'"isError":true' in data:
            raise RuntimeError(f"tool call failed: {data[-500:]!r}")

    async def close(self) -> None:
        if self.stream is not None:
            self.stream[1].close()
            self.stream = None


def ts_client_dir() -> Path | None:
    """``.cache/bench/ts-mcp`` with the TypeScript SDK installed and ``ts_client.mjs``
    beside it (node resolves the SDK from the script's folder); ``None``, having said why,
    without node and npm or when npm cannot install it."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        print("… no node and npm here: no TypeScript SDK rows", file=sys.stderr, flush=True)
        return None
    root = Path(HERE).parent.parent / ".cache" / "bench" / "ts-mcp"
    name, version = TS_SDK.rsplit("@", 1)
    installed = root / "node_modules" / name / "package.json"
    if not installed.exists() or json.loads(installed.read_text())["version"] != version:
        root.mkdir(parents=True, exist_ok=True)
        print(f"… installing {TS_SDK} into {root} (npm)", file=sys.stderr, flush=True)
        npm = ["npm", "install", "--prefix", str(root), "--no-audit", "--no-fund", TS_SDK]
        try:
            subprocess.run(npm, check=True, timeout=600, capture_output=True)
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
            said = (getattr(exc, "stderr", b"") or b"").decode(errors="replace").strip()
            print(f"… npm could not install {TS_SDK}: no TypeScript SDK rows\n{said[-2000:]}",
                  file=sys.stderr, flush=True)  # fmt: skip
            return None
    shutil.copyfile(Path(HERE).with_name("ts_client.mjs"), root / "ts_client.mjs")
    return root


class TsClients:
    """Clients of the official TypeScript SDK in one node process (``ts_client.mjs``),
    named ``NAME=http|sse=URL``; the durations are node's own."""

    def __init__(self, root: Path, *specs: str) -> None:
        self.root, self.specs = root, specs
        self.proc: asyncio.subprocess.Process | None = None

    async def __aenter__(self) -> TsClients:
        self.proc = await asyncio.create_subprocess_exec(
            "node", str(self.root / "ts_client.mjs"), *self.specs, cwd=self.root,
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        )  # fmt: skip
        await self._answer()  # {"ready": [...]}
        return self

    async def _answer(self) -> dict[str, Any]:
        assert self.proc is not None and self.proc.stdout is not None
        line = await asyncio.wait_for(self.proc.stdout.readline(), 60)
        if not line:
            raise RuntimeError("the TypeScript client exited")
        answer: dict[str, Any] = json.loads(line)
        if "error" in answer:
            raise RuntimeError(f"TypeScript client: {answer['error'][:1000]}")
        return answer

    async def _ask(self, request: dict[str, Any]) -> list[float]:
        assert self.proc is not None and self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(request).encode() + b"\n")
        return [ms / 1000 for ms in (await self._answer())["ms"]]

    async def calls(self, client: str, tool: str, arguments: dict[str, Any], n: int) -> list[float]:
        return await self._ask({"client": client, "tool": tool, "arguments": arguments, "n": n})

    async def wake(self, sender: str, receiver: str, to: str, n: int) -> list[float]:
        return await self._ask({"wake": {"sender": sender, "receiver": receiver, "to": to, "n": n}})

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self.proc is not None and self.proc.returncode is None:
            assert self.proc.stdin is not None
            self.proc.stdin.close()
            try:
                await asyncio.wait_for(self.proc.wait(), 15)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()


def fmt(row: dict[str, float]) -> str:
    return (
        f"n={row['n']:.0f} p50 {row['p50']:.2f} ms  p95 {row['p95']:.2f}  "
        f"p99 {row['p99']:.2f}  max {row['max']:.2f}  mean {row['mean']:.2f}"
    )


# --- the run ------------------------------------------------------------------------------

Batch = Callable[[int], Awaitable[list[float]]]
"""A row: takes n samples, returns their durations in seconds."""


async def run(args: argparse.Namespace) -> dict[str, dict[str, float]]:
    n, rounds = args.samples, args.rounds
    tmp = tempfile.TemporaryDirectory(prefix="ai-connect-mcp-bench-")
    async with (
        BridgeProcess(BridgeOptions(store=args.store), "mcp") as bridge,
        ServerProcess.mcp(bridge.url, "alice") as alice,
        ServerProcess.mcp(bridge.url, "bob") as bob,
        ServerProcess.mcp(bridge.url, "alice", nagle=True) as nagle,
        ServerProcess(HERE, "--noop-server") as noop,
    ):
        stdio = StdioServerParameters(
            command=sys.executable,
            args=["-m", "ai_connect", *mcp_args(bridge.url, "carol")],
            cwd=tmp.name,
            env=clean_env(tmp.name),
        )
        lean_kept = KeptAliveClient(alice.url)
        lean_nagle = KeptAliveClient(nagle.url)
        fresh = RawClient(alice.url, fresh=True)
        raw = RawClient(alice.url)
        ts_root = ts_client_dir()
        async with (
            Client(alice.url, mode="legacy") as a,
            Client(alice.url, mode="auto") as a26,
            Client(bob.url, mode="legacy") as b,
            Client(nagle.url, mode="legacy") as an,
            Client(nagle.url, mode="auto") as an26,
            Client(sse_client(alice.url.removesuffix("/mcp") + "/sse")) as sse,
            Client(stdio) as carol,
            Client(noop.url, mode="legacy") as floor,
            contextlib.AsyncExitStack() as stack,  # last: what it enters must exit first
        ):
            for client in (lean_kept, lean_nagle, fresh, raw):
                await client.open()
            ts = None
            if ts_root is not None:
                ts = await stack.enter_async_context(
                    TsClients(
                        ts_root,
                        *(f"{k}=http={v.url}" for k, v in (("a", alice), ("b", bob), ("n", noop))),
                        f"s=sse={alice.url.removesuffix('/mcp')}/sse",
                    )
                )
            sdk = {
                "Streamable HTTP kept-alive, SDK client": a,
                "Streamable HTTP kept-alive, SDK client, 2026 session": a26,
                "legacy SSE, SDK client": sse,
                "stdio, SDK client": carol,
                "BEFORE item 1: Streamable HTTP kept-alive, SDK client": an,
                "BEFORE item 1: Streamable HTTP kept-alive, SDK client, 2026 session": an26,
            }
            calls: dict[str, Batch] = {}
            for name, client in sdk.items():
                for tool, arguments in (("peer_list", {}), ("peer_send", SEND)):
                    call = functools.partial(client.call_tool, tool, arguments)
                    calls[f"{name} | {tool}"] = functools.partial(timed, call)
            if ts is not None:
                for name, ts_name in (
                    ("Streamable HTTP kept-alive, TypeScript SDK client", "a"),
                    ("legacy SSE, TypeScript SDK client", "s"),
                ):
                    for tool, arguments in (("peer_list", {}), ("peer_send", SEND)):
                        batch = functools.partial(ts.calls, ts_name, tool, arguments)
                        calls[f"{name} | {tool}"] = batch
                floor_ts = "no-op tool on a bare SDK server (floor), TypeScript SDK client | noop"
                calls[floor_ts] = functools.partial(ts.calls, "n", "noop", {})
            for name, lean in (
                ("Streamable HTTP kept-alive, raw client (the server's share)", raw),
                ("Streamable HTTP kept-alive, httpx client", lean_kept),
                ("BEFORE item 1: Streamable HTTP kept-alive, httpx client", lean_nagle),
                ("Streamable HTTP, fresh connection per call, raw client", fresh),
            ):
                for tool, arguments in (("peer_list", {}), ("peer_send", SEND)):
                    call = functools.partial(lean.call, tool, arguments)
                    calls[f"{name} | {tool}"] = functools.partial(timed, call)
            floor_call = functools.partial(floor.call_tool, "noop", {})
            calls["no-op tool on a bare SDK server (floor), SDK client | noop"] = functools.partial(
                timed, floor_call
            )
            for client in (a, b, carol):
                await client.call_tool("peer_status", {})
            carol_pid = child_with("--name carol")
            servers = {"BEFORE": nagle.pid, "stdio": carol_pid, "floor": noop.pid}
            samples: dict[str, list[float]] = {name: [] for name in calls}
            cpu: dict[str, list[float]] = {name: [0.0, 0.0] for name in calls}
            wakes: dict[str, list[float]] = {WAKE: []} | ({TS_WAKE: []} if ts else {})
            for round_no in range(rounds):
                print(f"… round {round_no + 1} of {rounds}", file=sys.stderr, flush=True)
                for name, batch in calls.items():
                    pid = next((v for k, v in servers.items() if k in name), alice.pid)
                    await batch(max(3, n // 50))  # warm up this row again
                    server_cpu, bridge_cpu = process_cpu_s(pid), bridge.cpu_s()
                    samples[name] += await batch(n // rounds)
                    cpu[name][0] += process_cpu_s(pid) - server_cpu
                    cpu[name][1] += bridge.cpu_s() - bridge_cpu
                per_round = max(20, n // 5) // rounds
                await drain(b)  # peer_wait must find an empty inbox
                wakes[WAKE] += (await wake(a, b, per_round, 3))[0]
                if ts is not None:  # the same pair of servers, through node's clients
                    await drain(b)
                    got = await ts.wake("a", "b", f"bob ({PROJECT})", 3 + per_round)
                    wakes[TS_WAKE] += got[3:]  # the first 3 warm up
            for closing in (lean_kept, lean_nagle, raw, fresh):
                await closing.close()
    tmp.cleanup()
    rows = {name: summary(values) for name, values in samples.items()}
    for name, (server_cpu, bridge_cpu) in cpu.items():
        rows[name]["server_cpu"] = 1000 * server_cpu / len(samples[name])
        rows[name]["bridge_cpu"] = 1000 * bridge_cpu / len(samples[name])
    for name, values in wakes.items():
        rows[f"{name} | peer_send -> peer_wait"] = summary(values)
    return rows


def noop_server() -> None:
    """A bare SDK server with one tool that does nothing (the floor of one tools/call)."""
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

    from ai_connect.mcp.http import listen

    async def list_tools(ctx: Any, params: Any) -> types.ListToolsResult:
        return types.ListToolsResult(
            tools=[types.Tool(name="noop", input_schema={"type": "object"})]
        )

    async def call_tool(ctx: Any, params: Any) -> types.CallToolResult:
        return types.CallToolResult(content=[types.TextContent(type="text", text="ok")])

    manager = StreamableHTTPSessionManager(
        app=Server("noop", on_list_tools=list_tools, on_call_tool=call_tool)
    )
    sock = listen("127.0.0.1", 0)  # TCP_NODELAY, as ai-connect mcp

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


def nagle_server(argv: list[str]) -> int:
    """``ai-connect mcp`` with its HTTP listener made as before issue 13: accepted
    connections keep Nagle's algorithm on (the before of the TCP_NODELAY fix)."""
    import socket

    import ai_connect.mcp.http as mcp_http
    from ai_connect.cli import main as cli

    def old_listen(host: str, port: int) -> socket.socket:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        return socket.create_server((host, port), family=family)

    mcp_http.listen = old_listen
    return cli(argv)


def main() -> int:
    if sys.argv[1:2] == ["--nagle-server"]:
        return nagle_server(sys.argv[2:])
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=300, help="per row")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--store", choices=("sqlite", "memory"), default="sqlite")
    parser.add_argument("--markdown", action="store_true")
    parser.add_argument("--noop-server", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.noop_server:
        noop_server()
        return 0
    started = time.monotonic()
    others = OtherLoad()
    rows = asyncio.run(asyncio.wait_for(run(args), 1800))
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    when = datetime.datetime.now().astimezone().isoformat(timespec="minutes")
    print(
        f"ai-connect mcp, every transport; bridge store {args.store}; {when}; "
        f"{args.rounds} interleaved rounds; load {load}; {os.cpu_count()} CPUs; "
        f"{time.monotonic() - started:.0f} s; {others.summary()}"
    )
    if args.markdown:
        print(
            "\n| transport, client | tool | n | p50 ms | p99 ms | max ms "
            "| MCP server CPU ms/call | bridge CPU ms/call | target |"
        )
        print("|---|---|---|---|---|---|---|---|---|")
    for key, r in rows.items():
        name, tool = key.split(" | ")
        target = TARGETS.get(name, "")
        server = f"{r['server_cpu']:.2f}" if "server_cpu" in r else ""
        bridge = f"{r['bridge_cpu']:.2f}" if "bridge_cpu" in r else ""
        if args.markdown:
            print(
                f"| {name} | {tool} | {r['n']:.0f} | {r['p50']:.2f} | {r['p99']:.2f} "
                f"| {r['max']:.2f} | {server} | {bridge} | {target} |"
            )
        else:
            print(f"{name:70} {tool:10} {fmt(r)}  cpu {server}/{bridge} ms  {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
