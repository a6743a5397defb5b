"""Helpers for the MCP tests: settings with short timeouts, the official MCP client
against the server in memory or over HTTP (uvicorn in this event loop, port 0), and
helpers to read tool results.

Nothing here sleeps: every wait is on an event, a future or a subprocess line, bounded.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import selectors
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx2
import uvicorn
from mcp.types import CallToolResult, TextContent

from ai_connect.config import ClientSettings
from ai_connect.mcp.http import build_http_app, listen
from ai_connect.mcp.server import Hub, McpScope, McpSettings, build_server, sharing
from ai_connect.mcp.tools import ToolSettings
from mcp import Client, StdioServerParameters
from tests.client.support import PROJECT, fast_delays
from tests.support.inprocess import CLIENT_OPTIONS

TOOL_NAMES = {
    "peer_list",
    "peer_send",
    "peer_read",
    "peer_wait",
    "peer_history",
    "peer_search",
    "peer_context",
    "peer_status",
    "consensus_propose",
    "consensus_vote",
    "consensus_withdraw",
    "consensus_status",
    "consensus_list",
    "peer_claim",
    "peer_release",
    "peer_claims",
}
MODES = ("legacy", "auto")
"""``legacy``: the 2025 initialize handshake (today's clients); ``auto``: the 2026 era."""


def settings(
    url: str, name: str, project: str = PROJECT, cwd: Path | None = None, **tools: Any
) -> McpSettings:
    """Settings for one MCP server: fast reconnects, short timeouts, quick progress."""
    tools.setdefault("progress_interval_s", 0.05)
    tools.setdefault("drain_s", 1.0)
    return McpSettings(
        ClientSettings(url, name, project),
        tools=ToolSettings(cwd=cwd or Path.cwd(), **tools),
        client_options={
            **CLIENT_OPTIONS,  # the in-process network: a bridge from tests.support.inprocess
            "reconnect_delays": fast_delays,
            "request_timeout": 5.0,
            "connect_timeout": 3.0,
        },
        connect_wait_s=3.0,
    )


def in_memory(s: McpSettings, mode: str = "legacy") -> Client:
    """The official MCP client connected in-process to a fresh server of ``s``."""
    return Client(build_server(s), mode=mode)


@contextlib.asynccontextmanager
async def served(s: McpSettings, mode: str = "legacy") -> AsyncIterator[tuple[Client, Hub]]:
    """Like :func:`in_memory`, also yielding the server's Hub (to wait on its clients)."""
    hub = Hub(s)
    async with hub, Client(build_server(s, lifespan=sharing(McpScope(hub))), mode=mode) as client:
        yield client, hub


def text(result: CallToolResult) -> str:
    """The text of a tool result (the first content block)."""
    block = result.content[0]
    assert isinstance(block, TextContent)
    return block.text


def data(result: CallToolResult) -> dict[str, Any]:
    """The structured content of a successful tool result."""
    assert not result.is_error, text(result)
    content = result.structured_content
    assert isinstance(content, dict), f"no structured content: {result}"
    return content


async def call(client: Client, tool: str, **arguments: Any) -> CallToolResult:
    return await client.call_tool(tool, arguments)


@contextlib.asynccontextmanager
async def http_server(s: McpSettings) -> AsyncIterator[str]:
    """The HTTP app of ``s`` under uvicorn on 127.0.0.1 port 0; yields ``http://host:port``."""
    ready = asyncio.Event()
    app = build_http_app(s, on_ready=ready.set)
    sock = listen("127.0.0.1", 0)  # as serve_http does
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        app, log_config=None, access_log=False, lifespan="on", timeout_graceful_shutdown=1
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        await asyncio.wait_for(ready.wait(), 5)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 10)
        sock.close()


def cli_env(tmp_path: Path) -> dict[str, str]:
    """Environment for an ``ai-connect`` subprocess: no user config, our interpreter."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AI_CONNECT_")}
    env["AI_CONNECT_CONFIG"] = str(tmp_path / "no-config.yaml")
    env["PYTHONUNBUFFERED"] = "1"
    return env


def stdio_params(url: str, name: str, cwd: Path, *extra: str) -> StdioServerParameters:
    """``python -m ai_connect mcp`` over stdio, run in ``cwd`` (its project)."""
    return StdioServerParameters(
        command=sys.executable,
        args=["-m", "ai_connect", "mcp", "--bridge", url, "--name", name, *extra],
        cwd=str(cwd),
        env=cli_env(cwd),
    )


class JsonRpcSession:
    """Streamable HTTP spoken directly over one httpx client: what a lean MCP client does.

    Each request reports the client address of the connection that carried it, so a
    test can tell whether requests shared one kept-alive connection.
    """

    def __init__(self, http: httpx2.AsyncClient, url: str) -> None:
        self.http, self.url, self.ids = http, url, itertools.count(1)
        self.headers = {
            "accept": "application/json, text/event-stream",
            "content-type": "application/json",
        }

    async def request(self, method: str, params: dict[str, Any]) -> tuple[Any, Any]:
        """(the JSON-RPC result, the client address of the connection that carried it)."""
        rid = next(self.ids)
        payload = {"jsonrpc": "2.0", "id": rid, "method": method, "params": params}
        response = await self.http.post(self.url, headers=self.headers, json=payload)
        response.raise_for_status()
        if "mcp-session-id" in response.headers:
            self.headers["mcp-session-id"] = response.headers["mcp-session-id"]
        where = response.extensions["network_stream"].get_extra_info("client_addr")
        for line in response.text.splitlines():  # an SSE stream, or one JSON object
            text = line.removeprefix("data:").strip()
            if text.startswith("{") and (reply := json.loads(text)).get("id") == rid:
                return reply["result"], where
        raise AssertionError(f"no reply to {method} in {response.text!r}")

    async def initialize(self) -> None:
        hello = {"protocolVersion": "2025-11-25", "capabilities": {}}
        hello["clientInfo"] = {"name": "lean", "version": "0"}
        await self.request("initialize", hello)
        self.headers["mcp-protocol-version"] = "2025-11-25"
        note = {"jsonrpc": "2.0", "method": "notifications/initialized"}
        (await self.http.post(self.url, headers=self.headers, json=note)).raise_for_status()


INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "by-hand", "version": "1"},
    },
}


def read_line(stream: Any, timeout: float) -> bytes:
    """One line of ``stream``, or an AssertionError after ``timeout`` s (no sleeping)."""
    with selectors.DefaultSelector() as sel:
        sel.register(stream, selectors.EVENT_READ)
        assert sel.select(timeout), f"no answer within {timeout} s"
    line: bytes = stream.readline()
    return line


@contextlib.contextmanager
def stdio_server(
    tmp_path: Path, front: str, runtime: Path | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    """``ai-connect mcp --name sam`` over stdio as a real process in ``tmp_path`` (its
    HOME), with (``front="on"``) or without the quick front, its bridge a closed port
    (it serves with its bridge down, as when started by hand); ``initialize`` answered.
    Afterwards stdin is closed (EOF ends a stdio server) and the process waited for."""
    env = {**cli_env(tmp_path), "HOME": str(tmp_path)}
    env["AI_CONNECT_RUNTIME_DIR"] = str(runtime or tmp_path)
    if front == "off":
        env["AI_CONNECT_MCP_FRONT"] = "off"
    argv = [sys.executable, "-m", "ai_connect", "mcp", "--bridge", "ws://127.0.0.1:1"]
    with subprocess.Popen(
        [*argv, "--name", "sam"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, env=env, cwd=tmp_path,
    ) as proc:  # fmt: skip
        assert proc.stdin is not None and proc.stdout is not None
        try:
            proc.stdin.write(json.dumps(INITIALIZE).encode() + b"\n")
            proc.stdin.flush()
            answer = json.loads(read_line(proc.stdout, 60))
            assert answer["id"] == 1 and "result" in answer, answer
            yield proc
        finally:
            with contextlib.suppress(OSError):
                proc.stdin.close()
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
